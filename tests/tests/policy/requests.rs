//! The requests the policy tests send, and a decision checked against the
//! outcome and reason expected.

use icr_integration_tests::*;
use icr_proto::pb::*;

pub(super) const UHCW: &str = "University Hospitals Coventry and Warwickshire NHS Trust";
pub(super) const ALL_SECTIONS: [RecordSection; 3] = [
    RecordSection::Demographics,
    RecordSection::Medications,
    RecordSection::MentalHealth,
];

pub(super) fn staff(role: &str, org: &str) -> Requester {
    Requester {
        user_id: format!("{role}-at-{org}"),
        role_code: role.into(),
        organisation_ods: org.into(),
    }
}

pub(super) fn join(ods: &str, name: &str, region: &str) -> JoinOrganisationRequest {
    JoinOrganisationRequest {
        request_id: request_id(),
        ods_code: ods.into(),
        name: name.into(),
        region: region.into(),
        user_id: "ig-lead".into(),
        expected_stream_version: None,
    }
}

pub(super) fn leave(ods: &str) -> LeaveOrganisationRequest {
    LeaveOrganisationRequest {
        request_id: request_id(),
        ods_code: ods.into(),
        user_id: "ig-lead".into(),
        expected_stream_version: None,
    }
}

pub(super) fn qwu(model: ConsentModel, viewing_regions: &[&str]) -> SetRegionPolicyRequest {
    SetRegionPolicyRequest {
        request_id: request_id(),
        region: "QWU".into(),
        name: "Coventry and Warwickshire".into(),
        consent_model: model.into(),
        minimum_age: 18,
        viewing_regions: viewing_regions.iter().map(|r| (*r).to_owned()).collect(),
        user_id: "ig-lead".into(),
        ..Default::default()
    }
}

pub(super) async fn start_care(server: &mut Server, nhs: &str, organisation: &str) -> u64 {
    let request = StartCareRelationshipRequest {
        request_id: request_id(),
        nhs_number: nhs.into(),
        relationship_id: format!("case-{organisation}-{nhs}"),
        organisation_ods: organisation.into(),
        kind: CareRelationshipKind::OutpatientEpisode.into(),
        user_id: "pas-feed".into(),
        expected_stream_version: None,
    };
    write_position(
        server
            .care
            .start_care_relationship(request)
            .await
            .expect("start care")
            .into_inner()
            .result,
    )
}

/// Decision for `requester` on `section`, asserting its outcome and reason.
pub(super) async fn expect(
    server: &mut Server,
    requester: Requester,
    section: RecordSection,
    allow: bool,
    reason: &str,
) -> Decision {
    let who = format!("{} at {}", requester.role_code, requester.organisation_ods);
    let d = server.authorize(PATIENT, requester, section).await;
    assert_eq!(
        (allowed(&d), d.reason.as_str()),
        (allow, reason),
        "{who} on {section:?}: {d:?}"
    );
    d
}

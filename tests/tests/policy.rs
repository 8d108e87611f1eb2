//! Policy RPCs change decisions as events: organisations leaving and
//! joining, role policies, unknown roles, a permission-to-view region and
//! which regions may view. Refused policy changes and the audit trail:
//! `policy_and_audit.rs`.

#[path = "policy/requests.rs"]
mod requests;

use icr_integration_tests::*;
use icr_proto::pb::submitter::Who;
use icr_proto::pb::*;
use requests::*;

#[tokio::test]
async fn leaving_the_agreement_denies_and_rejoining_restores() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    server.admit(PATIENT).await;
    expect(
        &mut server,
        clinician(),
        RecordSection::Medications,
        true,
        "role_permits_section",
    )
    .await;

    let left = server
        .policy
        .leave_organisation(leave(HOSPITAL))
        .await
        .expect("leave")
        .into_inner();
    let at = write_position(left.result);
    for section in ALL_SECTIONS {
        let d = expect(
            &mut server,
            clinician(),
            section,
            false,
            "organisation_not_in_agreement",
        )
        .await;
        assert!(d.log_position >= at, "{d:?} before {at}");
    }
    // Another member is unaffected.
    start_care(&mut server, PATIENT, "RLT").await;
    expect(
        &mut server,
        staff("R8000", "RLT"),
        RecordSection::Medications,
        true,
        "role_permits_section",
    )
    .await;

    server
        .policy
        .join_organisation(join(HOSPITAL, UHCW, "QWU"))
        .await
        .expect("rejoin");
    for section in ALL_SECTIONS {
        expect(
            &mut server,
            clinician(),
            section,
            true,
            "role_permits_section",
        )
        .await;
    }
}

#[tokio::test]
async fn role_policy_change_lets_admin_staff_see_medications() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    server.admit(PATIENT).await;
    let admin = || staff("R8008", HOSPITAL);
    expect(
        &mut server,
        admin(),
        RecordSection::Medications,
        false,
        "role_not_permitted",
    )
    .await;

    let sections = [
        RecordSection::Demographics,
        RecordSection::Contacts,
        RecordSection::CareTeam,
        RecordSection::AppointmentsAndReferrals,
        RecordSection::Medications,
    ];
    let policy = SetRolePolicyRequest {
        request_id: request_id(),
        role_code: "R8008".into(),
        description: "Admin/Clinical Support Access Role".into(),
        sections: sections.iter().map(|s| *s as i32).collect(),
        purposes: vec![Purpose::DirectCare.into()],
        user_id: "ig-lead".into(),
        ..Default::default()
    };
    server
        .policy
        .set_role_policy(policy)
        .await
        .expect("set role policy");
    expect(
        &mut server,
        admin(),
        RecordSection::Medications,
        true,
        "role_permits_section",
    )
    .await;
    expect(
        &mut server,
        admin(),
        RecordSection::Demographics,
        true,
        "role_permits_section",
    )
    .await;
    expect(
        &mut server,
        admin(),
        RecordSection::MentalHealth,
        false,
        "role_not_permitted",
    )
    .await;
    // Other roles are untouched.
    expect(
        &mut server,
        staff("R8014", HOSPITAL),
        RecordSection::Medications,
        false,
        "role_not_permitted",
    )
    .await;
}

#[tokio::test]
async fn an_unknown_role_is_denied_until_a_policy_names_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    server.admit(PATIENT).await;
    let unknown = || staff("R9999", HOSPITAL);
    expect(
        &mut server,
        unknown(),
        RecordSection::Demographics,
        false,
        "unknown_role",
    )
    .await;

    let policy = SetRolePolicyRequest {
        request_id: request_id(),
        role_code: "R9999".into(),
        description: "Pilot role".into(),
        sections: vec![RecordSection::Demographics.into()],
        purposes: vec![Purpose::DirectCare.into()],
        user_id: "ig-lead".into(),
        ..Default::default()
    };
    server
        .policy
        .set_role_policy(policy)
        .await
        .expect("set role policy");
    expect(
        &mut server,
        unknown(),
        RecordSection::Demographics,
        true,
        "role_permits_section",
    )
    .await;
    expect(
        &mut server,
        unknown(),
        RecordSection::Allergies,
        false,
        "role_not_permitted",
    )
    .await;
}

#[tokio::test]
async fn permission_to_view_region_needs_the_patients_permission() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    server.admit(PATIENT).await;
    start_care(&mut server, PATIENT, "RLT").await;
    let model = ConsentModel::PermissionToView;
    server
        .policy
        .set_region_policy(qwu(model, &["QHL", "QGH"]))
        .await
        .expect("set region");
    expect(
        &mut server,
        clinician(),
        RecordSection::Medications,
        false,
        "permission_to_view_missing",
    )
    .await;

    let until = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24);
    let patient = Some(Submitter {
        who: Some(Who::Patient(true)),
    });
    let grant = GrantPermissionToViewRequest {
        request_id: request_id(),
        nhs_number: PATIENT.into(),
        organisation_ods: HOSPITAL.into(),
        until: Some(icr_proto::Timestamp {
            seconds: until.as_second(),
            nanos: 0,
        }),
        submitter: patient.clone(),
        user_id: "ward-clerk".into(),
        expected_stream_version: None,
    };
    server
        .consent
        .grant_permission_to_view(grant)
        .await
        .expect("grant");
    expect(
        &mut server,
        clinician(),
        RecordSection::Medications,
        true,
        "role_permits_section",
    )
    .await;
    // The permission is for RKB only.
    let rlt = staff("R8000", "RLT");
    expect(
        &mut server,
        rlt,
        RecordSection::Medications,
        false,
        "permission_to_view_missing",
    )
    .await;

    let revoke = RevokePermissionToViewRequest {
        request_id: request_id(),
        nhs_number: PATIENT.into(),
        organisation_ods: HOSPITAL.into(),
        submitter: patient,
        user_id: "ward-clerk".into(),
        expected_stream_version: None,
    };
    server
        .consent
        .revoke_permission_to_view(revoke)
        .await
        .expect("revoke");
    expect(
        &mut server,
        clinician(),
        RecordSection::Medications,
        false,
        "permission_to_view_missing",
    )
    .await;

    // Back to opt-out: no permission needed.
    server
        .policy
        .set_region_policy(qwu(ConsentModel::OptOut, &["QHL", "QGH"]))
        .await
        .expect("set region");
    expect(
        &mut server,
        clinician(),
        RecordSection::Medications,
        true,
        "role_permits_section",
    )
    .await;
}

#[tokio::test]
async fn only_regions_named_as_viewers_may_view() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    server.admit(PATIENT).await;
    server
        .policy
        .join_organisation(join("RRK", "University Hospitals Birmingham", "QHL"))
        .await
        .expect("join RRK");
    server
        .policy
        .join_organisation(join(
            "RA7",
            "University Hospitals Bristol and Weston",
            "QOX",
        ))
        .await
        .expect("join RA7");
    let birmingham = || staff("R8000", "RRK");
    let bristol = || staff("R8000", "RA7");
    expect(
        &mut server,
        birmingham(),
        RecordSection::Medications,
        false,
        "no_care_relationship",
    )
    .await;

    start_care(&mut server, PATIENT, "RRK").await;
    start_care(&mut server, PATIENT, "RA7").await;
    expect(
        &mut server,
        birmingham(),
        RecordSection::Medications,
        true,
        "role_permits_section",
    )
    .await;
    // Bristol is in the agreement, but QWU does not name its region.
    expect(
        &mut server,
        bristol(),
        RecordSection::Medications,
        false,
        "region_may_not_view",
    )
    .await;

    // QWU stops naming QHL as a viewer: Birmingham loses access, QWU keeps it.
    server
        .policy
        .set_region_policy(qwu(ConsentModel::OptOut, &["QGH"]))
        .await
        .expect("set region");
    expect(
        &mut server,
        birmingham(),
        RecordSection::Medications,
        false,
        "region_may_not_view",
    )
    .await;
    expect(
        &mut server,
        clinician(),
        RecordSection::Medications,
        true,
        "role_permits_section",
    )
    .await;
}

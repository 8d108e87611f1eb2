//! Explain on the API: every decision names the policy lines and the events
//! (by log position) that decided it.

use icr_integration_tests::*;
use icr_proto::pb::{AccessMode, AuthorizeRequest, Purpose, RecordSection};

#[tokio::test]
async fn decisions_name_the_lines_and_events_behind_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    let related_at = server.admit(PATIENT).await;
    let decision = server
        .authorize(PATIENT, clinician(), RecordSection::Medications)
        .await;
    assert!(allowed(&decision));
    assert_eq!(
        decision.policy_lines,
        vec!["p, R8000, medications, direct_care, allow, -, -".to_owned()]
    );
    assert!(
        decision.event_positions.contains(&related_at),
        "{:?}",
        decision.event_positions
    );
    assert!(
        decision.event_positions.contains(&(related_at - 1)),
        "registration"
    );
    assert!(decision.obligations.is_empty());

    let objection = server
        .consent
        .record_objection(Server::objection(PATIENT))
        .await
        .expect("object");
    let objected_at = write_position(objection.into_inner().result);
    let denied = server
        .authorize(PATIENT, clinician(), RecordSection::Medications)
        .await;
    assert_eq!(denied.reason, "objection_active");
    assert!(denied.policy_lines[0].contains("deny, objection_active"));
    assert!(denied.event_positions.contains(&objected_at));
}

#[tokio::test]
async fn break_glass_is_refused_where_the_region_does_not_permit_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    server.admit(OTHER_PATIENT).await;
    let request = AuthorizeRequest {
        nhs_number: OTHER_PATIENT.into(),
        requester: Some(icr_proto::pb::Requester {
            user_id: "dr-2".into(),
            role_code: "R8000".into(),
            organisation_ods: "RLT".into(),
        }),
        section: RecordSection::Allergies.into(),
        purpose: Purpose::DirectCare.into(),
        access_mode: AccessMode::BreakGlass.into(),
        access_reason: "unconscious in the emergency department".into(),
        ..Default::default()
    };
    let decision = server
        .decisions
        .authorize(request)
        .await
        .expect("authorize")
        .into_inner()
        .decision
        .expect("decision");
    assert_eq!(
        decision.reason, "break_glass",
        "Coventry & Warwickshire permits no break glass"
    );
    assert!(decision.obligations.is_empty());
}

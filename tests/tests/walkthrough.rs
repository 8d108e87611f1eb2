//! The README walk-through, through a real gRPC connection: objection →
//! deny → withdrawal → allow, with the reasons a viewer is shown.

use icr_integration_tests::*;
use icr_proto::pb::submitter::Who;
use icr_proto::pb::{ObjectionScope, RecordSection, Submitter, WithdrawObjectionRequest};

#[tokio::test]
async fn objection_denies_and_withdrawal_restores_access() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    server.admit(PATIENT).await;

    let before = server
        .authorize(PATIENT, clinician(), RecordSection::Medications)
        .await;
    assert!(allowed(&before), "{before:?}");
    assert_eq!(before.reason, "role_permits_section");

    let objection = server
        .consent
        .record_objection(Server::objection(PATIENT))
        .await
        .expect("object")
        .into_inner();
    let objected_at = write_position(objection.result);
    let denied = server
        .authorize(PATIENT, clinician(), RecordSection::Medications)
        .await;
    assert!(!allowed(&denied));
    assert_eq!(denied.reason, "objection_active");
    assert!(denied.log_position >= objected_at);
    assert!(!denied.explanation.is_empty() && !denied.decision_id.is_empty());

    let withdrawal = WithdrawObjectionRequest {
        request_id: request_id(),
        nhs_number: PATIENT.into(),
        scope: ObjectionScope::DirectCare.into(),
        submitter: Some(Submitter {
            who: Some(Who::Patient(true)),
        }),
        user_id: "pals-officer".into(),
        expected_stream_version: None,
    };
    server
        .consent
        .withdraw_objection(withdrawal)
        .await
        .expect("withdraw");
    let after = server
        .authorize(PATIENT, clinician(), RecordSection::Medications)
        .await;
    assert!(allowed(&after), "{after:?}");
    server.stop().await.expect("clean stop");
}

//! A refused field is named in a `google.rpc.BadRequest` detail as well as
//! in the message: a standard gRPC client reads the field's path and the
//! reason from the status's details, without parsing the message text.

use icr_integration_tests::*;
use icr_proto::pb::{AuthorizeRequest, Purpose, RecordSection};
use tonic::{Code, Status};
use tonic_types::StatusExt;

/// The status's one field violation, after checking that it is
/// `InvalidArgument` and that the message says the same thing.
fn violation(status: &Status) -> (String, String) {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let bad = status
        .get_details_bad_request()
        .unwrap_or_else(|| panic!("no BadRequest detail in {status:?}"));
    assert_eq!(bad.field_violations.len(), 1, "{bad:?}");
    let v = &bad.field_violations[0];
    assert!(!v.description.is_empty(), "{bad:?}");
    // The message is unchanged: the field's path, then the reason.
    assert_eq!(
        status.message(),
        format!("{}: {}", v.field, v.description),
        "the message and the detail disagree"
    );
    (v.field.clone(), v.description.clone())
}

#[tokio::test]
async fn a_bad_nhs_number_is_named_in_the_details() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    // Ten digits with a wrong check digit.
    let refused = server
        .consent
        .record_objection(Server::objection("9434765918"))
        .await
        .expect_err("a bad NHS number is refused");
    let (field, reason) = violation(&refused);
    assert_eq!(field, "nhs_number");
    assert!(reason.contains("check digit"), "{reason}");
    assert!(
        server
            .all_events()
            .await
            .iter()
            .all(|e| !e.stream.starts_with("patient/"))
    );
}

#[tokio::test]
async fn a_field_past_its_bound_is_named_in_the_details() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    let long_user = server
        .consent
        .record_objection(icr_proto::pb::RecordObjectionRequest {
            user_id: "u".repeat(129),
            ..Server::objection(PATIENT)
        })
        .await
        .expect_err("a user id past 128 bytes is refused");
    let (field, reason) = violation(&long_user);
    assert_eq!(field, "user_id");
    assert!(reason.contains("128"), "{reason}");

    // A nested field is named by its path, as in the message.
    let long_role = server
        .decisions
        .authorize(AuthorizeRequest {
            nhs_number: PATIENT.into(),
            requester: Some(icr_proto::pb::Requester {
                role_code: "R".repeat(40),
                ..clinician()
            }),
            section: RecordSection::Medications.into(),
            purpose: Purpose::DirectCare.into(),
            ..Default::default()
        })
        .await
        .expect_err("a role code past its bound is refused");
    assert_eq!(violation(&long_role).0, "requester.role_code");
}

#[tokio::test]
async fn a_reused_request_id_is_named_in_the_details() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    let first = Server::objection(PATIENT);
    server
        .consent
        .record_objection(first.clone())
        .await
        .expect("first objection");
    // The same request id for a different request.
    let reused = server
        .consent
        .record_objection(icr_proto::pb::RecordObjectionRequest {
            nhs_number: OTHER_PATIENT.into(),
            ..first
        })
        .await
        .expect_err("a request id reused for another request is refused");
    let (field, reason) = violation(&reused);
    assert_eq!(field, "request_id");
    assert!(reason.contains("new request id"), "{reason}");
}

#[tokio::test]
async fn other_refusals_carry_no_field_violation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    // Withdrawing an objection that was never recorded: the state refuses,
    // not a field.
    let refused = server
        .consent
        .withdraw_objection(icr_proto::pb::WithdrawObjectionRequest {
            request_id: request_id(),
            nhs_number: PATIENT.into(),
            scope: icr_proto::pb::ObjectionScope::DirectCare.into(),
            submitter: Server::objection(PATIENT).submitter,
            user_id: "pals-officer".into(),
            expected_stream_version: None,
        })
        .await
        .expect_err("nothing to withdraw");
    assert_ne!(refused.code(), Code::InvalidArgument, "{refused:?}");
    assert!(refused.get_details_bad_request().is_none(), "{refused:?}");
}

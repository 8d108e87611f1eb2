//! A broken invariant of the service's own data is `Internal`, with a
//! message that calls it a bug and says what to report: never
//! `Unavailable`, which would send a client round retrying a fault that a
//! retry meets again.

use icr_integration_tests::{PATIENT, Server, allowed, clinician};
use icr_log::{DecisionAudit, SledLog};
use icr_proto::pb::{DecisionRecord, RecheckDecisionRequest, RecordSection};
use tonic::Code;

#[tokio::test]
async fn a_recorded_decision_that_does_not_read_back_is_internal_never_unavailable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    let position = server.admit(PATIENT).await;
    server.stop().await.expect("clean stop");
    // A record the service never writes: a purpose no version of it knows.
    {
        let log = SledLog::open(dir.path()).expect("open the log");
        let unreadable = DecisionRecord {
            decision_id: "unreadable-1".into(),
            nhs_number: PATIENT.into(),
            purpose: 99,
            log_position: position,
            ..Default::default()
        };
        log.record(vec![unreadable]).await.expect("recorded");
    }

    let mut server = Server::start(dir.path()).await;
    let ask = || RecheckDecisionRequest {
        decision_id: "unreadable-1".into(),
    };
    for _ in 0..2 {
        let refused = server
            .audit
            .recheck_decision(ask())
            .await
            .expect_err("the record cannot be re-checked");
        assert_eq!(refused.code(), Code::Internal, "{refused:?}");
        assert_eq!(
            refused.message(),
            "the recorded decision is unreadable: this is a bug in the service, and retrying \
             will not help; report it with decision id unreadable-1"
        );
    }
    // The service goes on deciding.
    let decided = server
        .authorize(PATIENT, clinician(), RecordSection::Medications)
        .await;
    assert!(allowed(&decided), "{decided:?}");
    server.stop().await.expect("clean stop");
}

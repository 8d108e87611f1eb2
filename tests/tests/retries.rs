//! Honest retries: racing duplicates, re-read versions, and attorneys who
//! must hold a valid power for every consent decision they make.

use icr_integration_tests::*;
use icr_proto::pb::submitter::Who;
use icr_proto::pb::*;
use tonic::Code;

#[tokio::test]
async fn racing_identical_retries_all_get_the_first_result() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    server.admit(PATIENT).await;
    let before = server.all_events().await.len();
    let request = Server::objection(PATIENT);
    let calls: Vec<_> = (0..16)
        .map(|_| {
            let mut client = server.consent.clone();
            let request = request.clone();
            tokio::spawn(async move { client.record_objection(request).await })
        })
        .collect();
    let mut results = Vec::new();
    for call in calls {
        let response = call.await.expect("join").expect("every retry succeeds");
        results.push(response.into_inner().result.expect("result"));
    }
    assert_eq!(results.iter().filter(|r| !r.replayed).count(), 1);
    assert!(results.iter().all(|r| r.event_id == results[0].event_id));
    assert_eq!(server.all_events().await.len(), before + 1);
}

#[tokio::test]
async fn retry_that_reread_the_stream_version_is_still_the_same_request() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    server.admit(PATIENT).await;
    let mut first = Server::objection(PATIENT);
    first.expected_stream_version = Some(2);
    let original = server
        .consent
        .record_objection(first.clone())
        .await
        .expect("object")
        .into_inner();
    let mut retry = first;
    retry.expected_stream_version = Some(3);
    let replayed = server
        .consent
        .record_objection(retry)
        .await
        .expect("retry")
        .into_inner();
    let (original, replayed) = (
        original.result.expect("result"),
        replayed.result.expect("result"),
    );
    assert!(replayed.replayed);
    assert_eq!(replayed.event_id, original.event_id);
}

#[tokio::test]
async fn unregistered_attorney_cannot_grant_permission_to_view() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    let tomorrow = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24);
    let grant = GrantPermissionToViewRequest {
        request_id: request_id(),
        nhs_number: PATIENT.into(),
        organisation_ods: HOSPITAL.into(),
        until: Some(icr_events::timestamp_to_proto(tomorrow)),
        submitter: Some(Submitter {
            who: Some(Who::AttorneyId("never-registered".into())),
        }),
        user_id: "ward-clerk".into(),
        expected_stream_version: None,
    };
    let before = server.all_events().await.len();
    let refused = server
        .consent
        .grant_permission_to_view(grant)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert_eq!(server.all_events().await.len(), before);
}

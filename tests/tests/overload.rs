//! Overload: past its limits the service refuses at once with
//! `ResourceExhausted` rather than queueing, honours client deadlines, and
//! serves normally again once the load has passed.

use std::num::NonZeroU32;
use std::time::Duration;

use consent_service::{Limits, Options, PolicyFiles};
use icr_integration_tests::*;
use icr_proto::pb::*;
use tonic::Code;

async fn start(dir: &std::path::Path, limits: Limits) -> Server {
    let mut options = Options::new(dir, PolicyFiles::built_in());
    options.limits = limits;
    Server::start_options(options).await
}

/// A read that waits for a log position far ahead: it holds its slot
/// until its deadline.
fn waiting_read(deadline: Duration) -> tonic::Request<GetConsentStatusRequest> {
    let mut request = tonic::Request::new(GetConsentStatusRequest {
        nhs_number: PATIENT.into(),
        min_log_position: u64::MAX / 2,
    });
    request.set_timeout(deadline);
    request
}

fn status_read() -> GetConsentStatusRequest {
    GetConsentStatusRequest {
        nhs_number: PATIENT.into(),
        min_log_position: 0,
    }
}

#[tokio::test]
async fn requests_past_the_in_flight_limit_are_shed_and_deadlines_end_waits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let limits = Limits {
        max_in_flight: 2,
        ..Limits::default()
    };
    let mut server = start(dir.path(), limits).await;
    server.admit(PATIENT).await;
    let before = server.all_events().await.len();

    // Two reads hold both slots until their client deadline.
    let holders: Vec<_> = (0..2)
        .map(|_| {
            let mut consent = server.consent.clone();
            tokio::spawn(async move {
                consent
                    .get_consent_status(waiting_read(Duration::from_millis(1500)))
                    .await
            })
        })
        .collect();
    // Wait until the holders are in: a probe is refused once both are.
    let mut shed = None;
    for _ in 0..200 {
        match server.consent.get_consent_status(status_read()).await {
            Err(status) if status.code() == Code::ResourceExhausted => {
                shed = Some(status);
                break;
            }
            Ok(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    let shed = shed.expect("a request past the limit is shed");
    assert_eq!(shed.code(), Code::ResourceExhausted);
    // A write is shed too.
    let write = server
        .consent
        .record_objection(Server::objection(PATIENT))
        .await;
    assert_eq!(write.expect_err("shed").code(), Code::ResourceExhausted);
    for holder in holders {
        let ended = holder
            .await
            .expect("task")
            .expect_err("no answer past the deadline");
        assert!(
            matches!(ended.code(), Code::Cancelled | Code::DeadlineExceeded),
            "the client's deadline ends the wait, not the service's own: {ended:?}"
        );
    }
    // Once the load has passed, requests are served again.
    server
        .consent
        .get_consent_status(status_read())
        .await
        .expect("served after the load");
    assert_eq!(
        server.all_events().await.len(),
        before,
        "the shed write left nothing"
    );
    server.stop().await.expect("clean stop");
}

/// Sends `n` status reads as `caller`; returns how many were refused for rate.
async fn burst(server: &Server, caller: &'static str, n: usize) -> usize {
    let channel = tonic::transport::Channel::from_shared(server.endpoint.clone())
        .expect("uri")
        .connect_lazy();
    let mut client = icr_proto::pb::consent_service_client::ConsentServiceClient::with_interceptor(
        channel,
        CallingSystem(caller),
    );
    let mut refused = 0;
    for _ in 0..n {
        match client.get_consent_status(status_read()).await {
            Ok(_) => {}
            Err(status) if status.code() == Code::ResourceExhausted => {
                assert!(status.message().contains("rate"), "{status:?}");
                refused += 1;
            }
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    refused
}

#[tokio::test]
async fn a_caller_over_its_rate_is_refused_without_starving_others() {
    let dir = tempfile::tempdir().expect("tempdir");
    let limits = Limits {
        per_caller_per_second: NonZeroU32::new(5),
        ..Limits::default()
    };
    let server = start(dir.path(), limits).await;
    // The burst allowance is one second's worth: 50 quick calls overrun it.
    let refused = burst(&server, "busy-portal", 50).await;
    assert!(refused > 0, "a caller past its rate is refused");
    // Another caller still has its whole allowance.
    assert_eq!(burst(&server, "quiet-portal", 5).await, 0);
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn a_message_over_the_size_limit_is_resource_exhausted_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let limits = Limits {
        max_message_bytes: 4096,
        ..Limits::default()
    };
    let mut server = start(dir.path(), limits).await;
    let before = server.all_events().await.len();
    let mut huge = Server::objection(PATIENT);
    huge.user_id = "x".repeat(8192);
    let refused = server
        .consent
        .record_objection(huge)
        .await
        .expect_err("over the limit");
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert_eq!(server.all_events().await.len(), before, "nothing written");
    // The server is still up.
    server.admit(PATIENT).await;
    server.stop().await.expect("clean stop");
}

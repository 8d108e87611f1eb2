//! `grpc.health.v1` as orchestrators use it, on the service's port and on
//! the plain-text health port, and server reflection as a generic client
//! uses it: a client built from nothing but what reflection tells it calls
//! Authorize.

use std::time::Duration;

use consent_service::{Options, PolicyFiles};
use icr_integration_tests::*;
use icr_proto::pb::GetConsentStatusRequest;
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

#[path = "health/dynamic.rs"]
mod dynamic;

async fn check(endpoint: &str, service: &str) -> ServingStatus {
    let channel = Channel::from_shared(endpoint.to_owned())
        .expect("uri")
        .connect_lazy();
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .expect("health check");
    let HealthCheckResponse { status } = response.into_inner();
    ServingStatus::try_from(status).expect("known status")
}

#[tokio::test]
async fn health_is_serving_once_started_and_not_serving_while_shutting_down() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = Options::new(dir.path(), PolicyFiles::built_in());
    let (server, health) = Server::start_with_health_port(options).await;
    for service in [
        "",
        "icr.consent.v1.AccessDecisionService",
        "icr.consent.v1.AuditService",
    ] {
        assert_eq!(
            check(&server.endpoint, service).await,
            ServingStatus::Serving
        );
        assert_eq!(check(&health, service).await, ServingStatus::Serving);
    }

    // A read waiting for a position far ahead keeps shutdown draining for
    // up to its consistency wait; meanwhile the health port says so.
    let mut consent = server.consent.clone();
    let in_flight = tokio::spawn(async move {
        consent
            .get_consent_status(GetConsentStatusRequest {
                nhs_number: PATIENT.into(),
                min_log_position: u64::MAX / 2,
            })
            .await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stopped = tokio::spawn(server.stop());
    let mut status = ServingStatus::Serving;
    for _ in 0..200 {
        status = check(&health, "").await;
        if status == ServingStatus::NotServing || stopped.is_finished() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        status,
        ServingStatus::NotServing,
        "not serving while draining"
    );
    assert!(
        !stopped.is_finished(),
        "observed while the in-flight read still ran"
    );
    let answered = in_flight.await.expect("task");
    assert_eq!(
        answered
            .expect_err("nothing will reach that position")
            .code(),
        tonic::Code::OutOfRange
    );
    stopped.await.expect("task").expect("clean stop");
}

#[tokio::test]
async fn the_health_port_is_not_serving_until_the_log_is_folded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut options = Options::new(dir.path(), PolicyFiles::built_in());
    let faults = consent_service::faults::Faults::default();
    faults.pause_projections(true);
    options.faults = faults.clone();
    let (server, health) = Server::start_with_health_port(options).await;
    // The start waits for the projections, which are held.
    let mut seen = None;
    for _ in 0..100 {
        let channel = Channel::from_shared(health.clone())
            .expect("uri")
            .connect_lazy();
        let asked = HealthClient::new(channel)
            .check(HealthCheckRequest::default())
            .await;
        if let Ok(answer) = asked {
            seen = Some(answer.into_inner().status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        seen,
        Some(ServingStatus::NotServing as i32),
        "not serving while folding"
    );
    faults.pause_projections(false);
    let mut status = ServingStatus::NotServing;
    for _ in 0..500 {
        status = check(&health, "").await;
        if status == ServingStatus::Serving {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status, ServingStatus::Serving, "serving once folded");
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn a_client_built_from_reflection_alone_calls_authorize() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    server.admit(PATIENT).await;
    let channel = Channel::from_shared(server.endpoint.clone())
        .expect("uri")
        .connect_lazy();
    let pool =
        dynamic::pool_by_reflection(channel.clone(), "icr.consent.v1.AccessDecisionService").await;
    let request = serde_json::json!({
        "nhsNumber": PATIENT,
        "requester": { "userId": "dr-1", "roleCode": "R8000", "organisationOds": HOSPITAL },
        "section": "RECORD_SECTION_MEDICATIONS",
        "purpose": "PURPOSE_DIRECT_CARE",
    });
    let response = dynamic::call(
        channel,
        &pool,
        "icr.consent.v1.AccessDecisionService",
        "Authorize",
        &request,
    )
    .await
    .expect("authorize");
    let decision = response.get("decision").expect("decision");
    assert_eq!(decision["outcome"], "OUTCOME_ALLOW", "{response}");
    server.stop().await.expect("clean stop");
}

/// The names `ListServices` gives over reflection `$version`: `v1`, or
/// `v1alpha`, which older grpcurl and grpcui speak. The two versions'
/// messages differ only in their package, so one body serves both.
macro_rules! services_by_reflection {
    ($version:ident, $channel:expr) => {{
        use tonic_reflection::pb::$version::ServerReflectionRequest;
        use tonic_reflection::pb::$version::server_reflection_client::ServerReflectionClient;
        use tonic_reflection::pb::$version::server_reflection_request::MessageRequest;
        use tonic_reflection::pb::$version::server_reflection_response::MessageResponse;
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut answers = ServerReflectionClient::new($channel)
            .server_reflection_info(tokio_stream::once(request))
            .await
            .expect(concat!("reflection ", stringify!($version), " is served"))
            .into_inner();
        let answer = answers.message().await.expect("answer").expect("one");
        match answer.message_response {
            Some(MessageResponse::ListServicesResponse(list)) => list
                .service
                .into_iter()
                .map(|s| s.name)
                .collect::<Vec<String>>(),
            other => panic!("unexpected reflection answer: {other:?}"),
        }
    }};
}

/// Every service a client may call, and both versions of reflection.
const LISTED: [&str; 8] = [
    "icr.consent.v1.AccessDecisionService",
    "icr.consent.v1.ConsentService",
    "icr.consent.v1.CareContextService",
    "icr.consent.v1.PolicyAdminService",
    "icr.consent.v1.AuditService",
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

/// A server on a fresh directory, and a channel to it.
async fn served() -> (tempfile::TempDir, Server, Channel) {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let channel = Channel::from_shared(server.endpoint.clone())
        .expect("uri")
        .connect_lazy();
    (dir, server, channel)
}

/// Every service of [`LISTED`] is in `listed`.
fn lists_every_service(listed: &[String]) {
    for service in LISTED {
        assert!(
            listed.iter().any(|s| s == service),
            "{service} in {listed:?}"
        );
    }
}

#[tokio::test]
async fn reflection_v1_lists_every_service() {
    let (_dir, server, channel) = served().await;
    lists_every_service(&services_by_reflection!(v1, channel));
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn reflection_v1alpha_lists_every_service() {
    let (_dir, server, channel) = served().await;
    lists_every_service(&services_by_reflection!(v1alpha, channel));
    server.stop().await.expect("clean stop");
}

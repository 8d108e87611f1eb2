//! The example record server in front of the real consent service: a
//! section is released only on an ALLOW; a denial, a request that names no
//! viewer, and a consent service that cannot be reached are all refusals.

#[allow(dead_code, reason = "the example's main is not run here")]
#[path = "../examples/record_server.rs"]
mod example;

use axum::body::Body;
use icr_client::{Client, Refusal};
use icr_integration_tests::*;
use tonic::codegen::http::{Request, StatusCode};
use tower::ServiceExt;

fn get(path: &str, organisation: &str) -> Request<Body> {
    Request::get(path)
        .header("x-user-id", "dr-1")
        .header("x-role-code", "R8000")
        .header("x-organisation", organisation)
        .body(Body::empty())
        .expect("request")
}

fn channel(endpoint: &str) -> tonic::transport::Channel {
    tonic::transport::Channel::from_shared(endpoint.to_owned())
        .expect("uri")
        .connect_lazy()
}

#[tokio::test]
async fn a_section_is_released_only_when_the_consent_service_allows_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    server.admit(PATIENT).await;
    let client = Client::new(channel(&server.endpoint));
    let records = example::router(client.clone());
    let path = format!("/patients/{PATIENT}/sections/medications");

    let allowed = records
        .clone()
        .oneshot(get(&path, HOSPITAL))
        .await
        .expect("answer");
    assert_eq!(allowed.status(), StatusCode::OK);

    // The patient objects, through the same client: its consistency token
    // makes the next question see the objection at once.
    client
        .record_objection(Server::objection(PATIENT))
        .await
        .expect("objection");
    assert!(client.consistency_token() > 0);
    let denied = records
        .clone()
        .oneshot(get(&path, HOSPITAL))
        .await
        .expect("answer");
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        denied.extensions().get::<Refusal>(),
        Some(&Refusal::Denied("objection_active".into()))
    );

    let anonymous = Request::get(&path).body(Body::empty()).expect("request");
    let refused = records.clone().oneshot(anonymous).await.expect("answer");
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        refused.extensions().get::<Refusal>(),
        Some(&Refusal::NoQuestion)
    );
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn an_unreachable_consent_service_is_a_refusal() {
    let client = Client::new(channel("http://127.0.0.1:9"));
    let records = example::router(client);
    let path = format!("/patients/{PATIENT}/sections/medications");
    let refused = records.oneshot(get(&path, HOSPITAL)).await.expect("answer");
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(
        matches!(
            refused.extensions().get::<Refusal>(),
            Some(Refusal::Unanswered(_))
        ),
        "{:?}",
        refused.headers()
    );
}

#[tokio::test]
async fn a_write_is_retried_with_its_request_id_and_recorded_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let faults = consent_service::faults::Faults::default();
    let mut options =
        consent_service::Options::new(dir.path(), consent_service::PolicyFiles::built_in());
    options.faults = faults.clone();
    let mut server = Server::start_options(options).await;
    let client = Client::new(channel(&server.endpoint)).with_retries(8);
    // Appends fail, then recover while the client is still retrying.
    faults.fail_appends(true);
    let writing = {
        let client = client.clone();
        tokio::spawn(async move { client.record_objection(Server::objection(PATIENT)).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(120)).await;
    faults.fail_appends(false);
    let written = writing
        .await
        .expect("task")
        .expect("recorded after retries");
    assert_eq!(client.consistency_token(), written.log_position);
    let events = server.all_events().await;
    let request_id = &events
        .iter()
        .find(|e| e.position == written.log_position)
        .expect("stored")
        .request_id;
    let copies = events
        .iter()
        .filter(|e| &e.request_id == request_id)
        .count();
    assert_eq!(copies, 1, "one objection, however many tries");
    server.stop().await.expect("clean stop");
}

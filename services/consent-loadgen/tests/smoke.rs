//! Smoke test of the harness: the real service and the no-op server on
//! `127.0.0.1:0`, a few seeded patients, and about a second of load per
//! target. Every request must succeed, and every decision must allow.

use std::future::Future;
use std::time::Duration;

use consent_loadgen::driver::{DEFAULT_NOOP_RESPONSE_BYTES, connect};
use consent_loadgen::noop::{self, Sockets};
use consent_loadgen::workload::{BATCH_SECTIONS, CALLING_SYSTEM, CALLING_SYSTEM_HEADER};
use consent_loadgen::{LoadConfig, Report, Target, run, seed};
use icr_events::NhsNumber;
use icr_proto::pb::access_decision_service_client::AccessDecisionServiceClient;
use icr_proto::pb::{AuthorizeRequest, Outcome, Purpose, RecordSection};
use prost::Message;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

const PATIENTS: u32 = 20;
/// Writes in flight at once: several, so the writes race the projection
/// follower as they do in production.
const WRITERS: usize = 8;

/// Binds `127.0.0.1:0`, serves with `serve` until the returned sender fires.
async fn start<F, Fut, E>(
    serve: F,
) -> (
    String,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), E>>,
)
where
    F: FnOnce(TcpListener, oneshot::Receiver<()>) -> Fut,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("address"));
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(serve(listener, stopped));
    (endpoint, stop, task)
}

/// About a second of closed-loop load at low concurrency.
fn short(endpoint: &str, target: Target) -> LoadConfig {
    let mut config = LoadConfig::new(endpoint, target);
    config.connections = 2;
    config.concurrency = 4;
    config.warmup = Duration::from_millis(100);
    config.duration = Duration::from_millis(700);
    config.patients = PATIENTS;
    config
}

fn assert_clean(report: &Report) {
    assert!(report.ok > 0, "no successes:\n{report}");
    assert_eq!(report.errors_total, 0, "errors:\n{report}");
    assert_eq!(report.requests, report.ok);
    assert!(report.latency_us.p50 > 0.0 && report.latency_us.max >= report.latency_us.p99);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drives_every_target_without_errors() {
    let dir = tempfile::tempdir().unwrap();
    let options =
        consent_service::Options::new(dir.path(), consent_service::PolicyFiles::built_in());
    let (service, stop_service, service_task) = start(|listener, stopped| {
        consent_service::run(listener, options, async {
            let _ = stopped.await;
        })
    })
    .await;

    // Concurrent writes once froze the service: `View::wait_for` held a
    // watch read lock across a second borrow while the follower waited to
    // send. The test would hang again if that came back.
    let seeded = seed(&service, 0, PATIENTS, WRITERS).await.unwrap();
    assert_eq!(
        (seeded.patients, seeded.appended, seeded.replayed),
        (PATIENTS, 40, 0)
    );
    let again = seed(&service, 0, PATIENTS, WRITERS).await.unwrap();
    assert_eq!(
        (again.appended, again.replayed),
        (0, 40),
        "seeding is repeatable"
    );

    for (target, sections) in [
        (Target::Authorize, 1),
        (Target::AuthorizeBatch, BATCH_SECTIONS),
    ] {
        let report = run(&short(&service, target)).await.unwrap();
        assert_clean(&report);
        // Registered, admitted to RKB: a clinician there is allowed.
        assert_eq!(report.denied, Some(0), "{report}");
        assert_eq!(
            report.allowed,
            Some(report.ok * sections as u64),
            "{report}"
        );
    }

    // A deny is a successful request, counted apart: the ambulance trust
    // has no care relationship with these patients.
    let mut stranger = short(&service, Target::Authorize);
    stranger.requester.organisation_ods = "RYA".into();
    stranger.duration = Duration::from_millis(300);
    let report = run(&stranger).await.unwrap();
    assert_clean(&report);
    assert_eq!(report.allowed, Some(0), "{report}");
    assert_eq!(report.denied, Some(report.ok), "{report}");

    // The no-op response stands in for an allowed AuthorizeResponse (asked
    // before the writes below leave patients objecting).
    let channel = connect(&service, 1).await.unwrap().remove(0);
    let mut request = tonic::Request::new(AuthorizeRequest {
        nhs_number: NhsNumber::synthetic(0).to_string(),
        requester: Some(short(&service, Target::Authorize).requester),
        section: RecordSection::Medications.into(),
        purpose: Purpose::DirectCare.into(),
        ..Default::default()
    });
    request
        .metadata_mut()
        .insert(CALLING_SYSTEM_HEADER, CALLING_SYSTEM.parse().unwrap());
    let answer = AccessDecisionServiceClient::new(channel)
        .authorize(request)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        answer.decision.as_ref().unwrap().outcome,
        Outcome::Allow as i32
    );
    let size = answer.encoded_len() as u32;
    eprintln!("an allowed AuthorizeResponse is {size} bytes");
    assert!(
        (size / 2..size * 2).contains(&DEFAULT_NOOP_RESPONSE_BYTES),
        "an AuthorizeResponse is {size} bytes; the no-op sends {DEFAULT_NOOP_RESPONSE_BYTES}"
    );

    // Objections and withdrawals alternate, so every write is accepted;
    // a second run starts from the states the first one left.
    for _ in 0..2 {
        let mut writes = short(&service, Target::RecordObjection);
        writes.concurrency = WRITERS;
        writes.duration = Duration::from_millis(400);
        let report = run(&writes).await.unwrap();
        assert_clean(&report);
        assert_eq!(report.allowed, None);
    }

    stop_service.send(()).unwrap();
    service_task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drives_the_noop_server_in_both_loops_and_from_the_binary() {
    let (noop, stop, task) = start(|listener, stopped| {
        noop::serve(listener, Sockets::AsTheService, async {
            let _ = stopped.await;
        })
    })
    .await;

    let report = run(&short(&noop, Target::Noop)).await.unwrap();
    assert_clean(&report);
    assert_eq!(report.allowed, None);

    let mut open = short(&noop, Target::Noop);
    open.rate = Some(500.0);
    let report = run(&open).await.unwrap();
    assert_clean(&report);
    assert_eq!(report.run.mode, "open");
    // 500/s for 0.7 s, give or take the timer.
    assert!((250..=450).contains(&report.ok), "{report}");

    let binary = env!("CARGO_BIN_EXE_consent-loadgen");
    let args = [
        "--endpoint",
        &noop,
        "--target",
        "noop",
        "--duration",
        "300ms",
        "--warmup",
        "100ms",
        "--json",
    ];
    let output = tokio::process::Command::new(binary)
        .args(args)
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["target"], "noop");
    assert_eq!(json["errors_total"], 0);
    assert!(json["ok"].as_u64().unwrap() > 0, "{json}");

    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
}

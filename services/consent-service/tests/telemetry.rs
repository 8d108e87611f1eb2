//! OpenTelemetry export from the real binary to an OTLP/gRPC collector in
//! the test: a span per RPC, joined to the caller's W3C trace context, and
//! the service's metrics, periodically and at shutdown.

#[path = "telemetry/collector.rs"]
mod collector;
mod common;

use std::time::Duration;

use collector::{int_attribute, string_attribute};
use common::{Service, admit, clinician_asks, objection, patients};
use icr_proto::pb::{AuthorizeRequest, Outcome, RecordSection};
use opentelemetry_proto::tonic::metrics::v1::{Metric, metric, number_data_point};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use tonic::Code;

/// W3C trace context the test's "caller" sends.
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_SPAN_ID: &str = "00f067aa0ba902b7";
const AUTHORIZE: &str = "icr.consent.v1.AccessDecisionService/Authorize";
/// Guard against a hang while waiting for an export, not a measurement.
const EXPORT_GIVE_UP: Duration = Duration::from_secs(60);

fn question(nhs: &str) -> AuthorizeRequest {
    clinician_asks(nhs, RecordSection::Medications)
}

fn traced<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    let traceparent = format!("00-{TRACE_ID}-{PARENT_SPAN_ID}-01");
    let value = traceparent.parse().expect("traceparent");
    request.metadata_mut().insert("traceparent", value);
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_and_metrics_reach_an_otlp_collector() {
    let (endpoint, received) = collector::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    // Spans wait for the shutdown's flush; metrics go out every 200 ms.
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "600000"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "200"),
    ];
    let service =
        Service::try_start_with_env(dir.path(), &[], &env).unwrap_or_else(|out| panic!("{out}"));
    // Periodic export while serving. The projection gauges are registered
    // once the new log holds the policy pack's events: count from there.
    let folded = |m: &Vec<Metric>| has(m, "icr.projection.position");
    wait_for(|| received.metrics().iter().any(folded)).await;
    let first = received
        .metrics()
        .into_iter()
        .find(folded)
        .expect("an export");
    let pack_appends = histogram_count(&first, "icr.log.append.duration", "icr.log", "events");

    let nhs = &patients(1)[0];
    admit(&mut service.care(), nhs).await;
    let mut decisions = service.decisions();
    let allowed = decisions.authorize(traced(question(nhs))).await;
    let allowed = allowed
        .expect("authorize")
        .into_inner()
        .decision
        .expect("a decision");
    assert_eq!(allowed.outcome, Outcome::Allow as i32);
    let objected = service
        .consent()
        .record_objection(objection("object-1", nhs))
        .await;
    let objected = objected
        .expect("objection")
        .into_inner()
        .result
        .expect("result");
    let denied = decisions.authorize(question(nhs)).await.expect("authorize");
    let denied = denied.into_inner().decision.expect("a decision");
    assert_eq!(denied.reason, "objection_active");
    let refused = decisions
        .authorize(question("12345"))
        .await
        .expect_err("bad NHS number");
    assert_eq!(refused.code(), Code::InvalidArgument);

    // The projection gauges, observed while serving (once stopped, the
    // projections report no position).
    let applied = |metrics: &[Metric]| {
        has(metrics, "icr.projection.position")
            && gauge(metrics, "icr.projection.position") >= objected.log_position as i64
    };
    wait_for(|| received.metrics().last().is_some_and(|m| applied(m))).await;
    let serving = received.metrics().pop().expect("an export");
    assert_eq!(gauge(&serving, "icr.projection.lag"), 0);

    service.terminate();
    let status = tokio::task::spawn_blocking(move || service.wait())
        .await
        .expect("wait");
    assert!(status.success(), "exit status {status}");

    check_spans(&received);
    assert_nothing_personal(&received, &[nhs, "dr-1"]);
    let last = received.metrics().pop().expect("a metric export");
    let sums = |name: &str, key: &str, value: &str| counter(&last, name, key, value);
    assert_eq!(
        sums("icr.decisions", "icr.decision.reason", &allowed.reason),
        1
    );
    assert_eq!(
        sums("icr.decisions", "icr.decision.reason", "objection_active"),
        1
    );
    assert_eq!(sums("icr.decisions", "icr.decision.outcome", "allow"), 1);
    assert_eq!(sums("icr.decisions", "icr.decision.outcome", "deny"), 1);
    // Three Authorize calls, the refused one included.
    assert_eq!(
        histogram_count(&last, "icr.authorize.duration", "rpc.method", "Authorize"),
        3
    );
    // Register, care relationship, objection; two decisions recorded.
    let appends = |log: &str| histogram_count(&last, "icr.log.append.duration", "icr.log", log);
    assert_eq!(appends("events"), pack_appends + 3);
    assert_eq!(appends("decisions"), 2);
    assert!(histogram_count(&last, "icr.log.flush.batch_size", "icr.log", "events") >= 1);
    assert!(histogram_count(&last, "icr.log.flush.duration", "", "") >= 1);
}

/// The Authorize spans: named and attributed by the gRPC conventions, the
/// traced one a child of the caller's span, the refused one with its code.
fn check_spans(received: &collector::Received) {
    let spans = received.spans();
    let authorize: Vec<_> = spans.iter().filter(|(_, s)| s.name == AUTHORIZE).collect();
    assert_eq!(authorize.len(), 3, "spans: {:?}", names(&spans));
    let trace_id = hex(TRACE_ID);
    let (service, traced) = authorize
        .iter()
        .find(|(_, s)| s.trace_id == trace_id)
        .expect("the span joined to the caller's trace");
    assert_eq!(service, "consent-service");
    assert_eq!(traced.parent_span_id, hex(PARENT_SPAN_ID));
    assert_eq!(traced.kind, SpanKind::Server as i32);
    let attributes = &traced.attributes;
    assert_eq!(
        string_attribute(attributes, "rpc.system").as_deref(),
        Some("grpc")
    );
    let service_name = string_attribute(attributes, "rpc.service");
    assert_eq!(
        service_name.as_deref(),
        Some("icr.consent.v1.AccessDecisionService")
    );
    assert_eq!(
        string_attribute(attributes, "rpc.method").as_deref(),
        Some("Authorize")
    );
    assert_eq!(int_attribute(attributes, "rpc.grpc.status_code"), Some(0));
    // Untraced calls start traces of their own.
    let codes: Vec<_> = authorize
        .iter()
        .filter(|(_, s)| s.trace_id != trace_id)
        .inspect(|(_, s)| assert!(s.parent_span_id.is_empty(), "a root span"))
        .map(|(_, s)| int_attribute(&s.attributes, "rpc.grpc.status_code"))
        .collect();
    assert!(
        codes.contains(&Some(Code::InvalidArgument as i64)),
        "{codes:?}"
    );
    assert!(codes.contains(&Some(0)), "{codes:?}");
    for rpc in [
        "RegisterPatient",
        "StartCareRelationship",
        "RecordObjection",
    ] {
        assert!(
            spans
                .iter()
                .any(|(_, s)| s.name.ends_with(&format!("/{rpc}"))),
            "no {rpc} span in {:?}",
            names(&spans)
        );
    }
}

/// No span, span event or metric carries the patient's NHS number or the
/// clinician's user id, in any attribute.
fn assert_nothing_personal(received: &collector::Received, personal: &[&str]) {
    let mut values = Vec::new();
    for (_, span) in received.spans() {
        values.push(format!("{:?}", span.attributes));
        values.push(format!("{:?}", span.events));
        values.push(span.name.clone());
    }
    for export in received.metrics() {
        values.push(format!("{export:?}"));
    }
    for value in &values {
        for item in personal {
            assert!(!value.contains(item), "{item} exported in {value}");
        }
    }
}

/// A collector that is not there costs failed exports, never a decision,
/// and does not hold up the exit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_collector_changes_nothing_for_callers() {
    // Bound, then closed again: nothing listens on the port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", closed.local_addr().expect("address"));
    drop(closed);
    let dir = tempfile::tempdir().expect("tempdir");
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_METRIC_EXPORT_INTERVAL", "100"),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ];
    let service =
        Service::try_start_with_env(dir.path(), &[], &env).unwrap_or_else(|out| panic!("{out}"));
    let nhs = &patients(1)[0];
    admit(&mut service.care(), nhs).await;
    let mut decisions = service.decisions();
    for _ in 0..20 {
        let answer = decisions.authorize(question(nhs)).await.expect("authorize");
        let decision = answer.into_inner().decision.expect("a decision");
        assert_eq!(decision.outcome, Outcome::Allow as i32);
    }
    service.terminate();
    let status = tokio::task::spawn_blocking(move || service.wait())
        .await
        .expect("wait");
    assert!(status.success(), "exit status {status}");
}

fn names(spans: &[(String, opentelemetry_proto::tonic::trace::v1::Span)]) -> Vec<&str> {
    spans.iter().map(|(_, s)| s.name.as_str()).collect()
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

async fn wait_for(mut done: impl FnMut() -> bool) {
    let began = std::time::Instant::now();
    while !done() {
        assert!(began.elapsed() < EXPORT_GIVE_UP, "no export arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn has(metrics: &[Metric], name: &str) -> bool {
    metrics.iter().any(|m| m.name == name)
}

fn metric<'a>(metrics: &'a [Metric], name: &str) -> &'a metric::Data {
    let found = metrics.iter().find(|m| m.name == name);
    let names: Vec<_> = metrics.iter().map(|m| m.name.as_str()).collect();
    let found = found.unwrap_or_else(|| panic!("no {name} in {names:?}"));
    found.data.as_ref().expect("data")
}

fn matches(
    attributes: &[opentelemetry_proto::tonic::common::v1::KeyValue],
    key: &str,
    value: &str,
) -> bool {
    key.is_empty() || string_attribute(attributes, key).as_deref() == Some(value)
}

/// The sum of counter `name`'s points whose attribute `key` is `value`.
fn counter(metrics: &[Metric], name: &str, key: &str, value: &str) -> i64 {
    let metric::Data::Sum(sum) = metric(metrics, name) else {
        panic!("{name} is not a sum");
    };
    sum.data_points
        .iter()
        .filter(|p| matches(&p.attributes, key, value))
        .map(|p| match p.value {
            Some(number_data_point::Value::AsInt(v)) => v,
            other => panic!("{name}: {other:?}"),
        })
        .sum()
}

/// The count of histogram `name`'s points whose attribute `key` is `value`
/// (every point when `key` is empty).
fn histogram_count(metrics: &[Metric], name: &str, key: &str, value: &str) -> u64 {
    let metric::Data::Histogram(histogram) = metric(metrics, name) else {
        panic!("{name} is not a histogram");
    };
    let points = histogram.data_points.iter();
    points
        .filter(|p| matches(&p.attributes, key, value))
        .map(|p| p.count)
        .sum()
}

/// The value of gauge `name`.
fn gauge(metrics: &[Metric], name: &str) -> i64 {
    let metric::Data::Gauge(gauge) = metric(metrics, name) else {
        panic!("{name} is not a gauge");
    };
    match gauge.data_points.first().and_then(|p| p.value) {
        Some(number_data_point::Value::AsInt(v)) => v,
        other => panic!("{name}: {other:?}"),
    }
}

//! What the per-RPC span layer (`telemetry::rpc`) adds to a request, against
//! the same request without it, in one run:
//! - `bare`: a service that answers at once, no layer: the baseline;
//! - `span`: the layer, no subscriber (spans are disabled);
//! - `span_logged`: the layer under the log subscriber at INFO, as the
//!   service runs by default (the span is created and its fields recorded);
//!   log lines go to a sink.
//!
//! Export is not measured: it runs on the SDK's own thread, off the request.
//! Run with `cargo bench -p consent-service --bench rpc_span`; compare the
//! medians as ratios, and against the Authorize time of `audit_cost`.

use std::convert::Infallible;

use consent_service::telemetry::rpc;
use criterion::{Criterion, criterion_group, criterion_main};
use tonic::codegen::http::{Request, Response};
use tower::{Layer, ServiceExt, service_fn};

/// The allocator the service runs with, so that figures are the service's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// An Authorize request as the layer sees it, with W3C trace context.
fn request() -> Request<tonic::body::Body> {
    Request::builder()
        .uri("/icr.consent.v1.AccessDecisionService/Authorize")
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .body(tonic::body::Body::empty())
        .expect("request")
}

fn rpc_span(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let answer = service_fn(|_: Request<tonic::body::Body>| async {
        let response = Response::builder()
            .header("grpc-status", "0")
            .body(tonic::body::Body::empty());
        Ok::<_, Infallible>(response.expect("response"))
    });
    let layer = rpc::layer(&[icr_proto::FILE_DESCRIPTOR_SET]).expect("layer");
    let mut group = c.benchmark_group("rpc_span");
    group.bench_function("bare", |b| {
        b.to_async(&runtime).iter(|| answer.oneshot(request()))
    });
    let traced = layer.layer(answer);
    group.bench_function("span", |b| {
        b.to_async(&runtime)
            .iter(|| traced.clone().oneshot(request()))
    });
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::sink)
        .with_max_level(tracing::Level::INFO)
        .finish();
    let _logging = tracing::subscriber::set_default(logs);
    group.bench_function("span_logged", |b| {
        b.to_async(&runtime)
            .iter(|| traced.clone().oneshot(request()))
    });
    group.finish();
}

criterion_group!(benches, rpc_span);
criterion_main!(benches);

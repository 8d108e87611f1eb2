//! One tracing span per RPC, made by tower-http's trace layer in front of
//! every route (the access and overload gates included, so a refused call
//! has its span too).
//!
//! The span follows the OpenTelemetry conventions for gRPC servers: named
//! `service/method`, kind server, with `rpc.system`, `rpc.service`,
//! `rpc.method` and `rpc.grpc.status_code`. Its parent is the caller's span
//! when the request carries W3C trace context (`traceparent`,
//! `tracestate`). The status is read where gRPC puts it: the response head
//! for a refusal (trailers-only), else the trailers at the end of the stream.

use std::time::Duration;

use opentelemetry_http::HeaderExtractor;
use tonic::codegen::http::{HeaderMap, Request, Response};
use tower_http::classify::{GrpcErrorsAsFailures, GrpcFailureClass, SharedClassifier};
use tower_http::trace::{MakeSpan, OnEos, OnFailure, OnResponse, TraceLayer};
use tracing::Span;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The layer: [`RpcSpan`] opens the span, [`RpcEnd`] records the status.
pub(crate) type RpcTraceLayer =
    TraceLayer<SharedClassifier<GrpcErrorsAsFailures>, RpcSpan, (), RpcEnd, (), RpcEnd, RpcEnd>;

/// The trace layer for the gRPC server.
pub(crate) fn layer() -> RpcTraceLayer {
    TraceLayer::new_for_grpc()
        .make_span_with(RpcSpan)
        .on_request(())
        .on_response(RpcEnd)
        .on_body_chunk(())
        .on_eos(RpcEnd)
        .on_failure(RpcEnd)
}

/// Opens the span of one RPC.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RpcSpan;

impl<B> MakeSpan<B> for RpcSpan {
    fn make_span(&mut self, request: &Request<B>) -> Span {
        let name = request.uri().path().trim_start_matches('/');
        let (service, method) = name.split_once('/').unwrap_or((name, ""));
        let span = tracing::info_span!(
            "rpc",
            otel.name = name,
            otel.kind = "server",
            otel.status_code = Empty,
            otel.status_description = Empty,
            rpc.system = "grpc",
            rpc.service = service,
            rpc.method = method,
            rpc.grpc.status_code = Empty,
        );
        let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.extract(&HeaderExtractor(request.headers()))
        });
        // Fails only when no OpenTelemetry layer is installed: nothing to link.
        let _ = span.set_parent(parent);
        span
    }
}

/// Records the gRPC status on the span when the response ends.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RpcEnd;

impl<B> OnResponse<B> for RpcEnd {
    fn on_response(self, response: &Response<B>, _: Duration, span: &Span) {
        if let Some(code) = grpc_status(response.headers()) {
            record_status(span, code);
        }
    }
}

impl OnEos for RpcEnd {
    fn on_eos(self, trailers: Option<&HeaderMap>, _: Duration, span: &Span) {
        if let Some(code) = trailers.and_then(grpc_status) {
            record_status(span, code);
        }
    }
}

impl OnFailure<GrpcFailureClass> for RpcEnd {
    fn on_failure(&mut self, failure: GrpcFailureClass, _: Duration, span: &Span) {
        // A status code is recorded from the head or trailers; this sees the
        // failures that have none (a broken connection, a body error).
        if let GrpcFailureClass::Error(error) = failure {
            span.record("otel.status_code", "ERROR");
            span.record("otel.status_description", error.as_str());
        }
    }
}

/// The `grpc-status` in `headers`, if it is there and a number.
fn grpc_status(headers: &HeaderMap) -> Option<i32> {
    headers.get("grpc-status")?.to_str().ok()?.parse().ok()
}

/// Records `code`, marking the span an error for the codes the
/// OpenTelemetry conventions count as server errors (a refusal of the
/// caller's request, such as `InvalidArgument` or `PermissionDenied`, is the
/// service working).
fn record_status(span: &Span, code: i32) {
    span.record("rpc.grpc.status_code", code);
    let server_error = matches!(
        tonic::Code::from_i32(code),
        tonic::Code::Unknown
            | tonic::Code::DeadlineExceeded
            | tonic::Code::Unimplemented
            | tonic::Code::Internal
            | tonic::Code::Unavailable
            | tonic::Code::DataLoss
    );
    if server_error {
        span.record("otel.status_code", "ERROR");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_is_read_from_grpc_status() {
        let mut headers = HeaderMap::new();
        assert_eq!(grpc_status(&headers), None);
        headers.insert("grpc-status", "3".parse().unwrap());
        assert_eq!(grpc_status(&headers), Some(3));
        headers.insert("grpc-status", "x".parse().unwrap());
        assert_eq!(grpc_status(&headers), None);
    }
}

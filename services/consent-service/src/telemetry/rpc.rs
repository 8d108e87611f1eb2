//! One tracing span per RPC, made by tower-http's trace layer in front of
//! every route (the access and overload gates included, so a refused call
//! has its span too).
//!
//! The span follows the OpenTelemetry conventions for gRPC servers: named
//! `service/method`, kind server, with `rpc.system`, `rpc.service`,
//! `rpc.method` and `rpc.grpc.status_code`; a path that names no RPC the
//! server has is `_OTHER`, so callers cannot mint span names. Its parent is
//! the caller's span
//! when the request carries W3C trace context (`traceparent`,
//! `tracestate`). The status is read where gRPC puts it: the response head
//! for a refusal (trailers-only), else the trailers at the end of the stream.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use prost::Message;

use opentelemetry_http::HeaderExtractor;
use tonic::codegen::http::{HeaderMap, Request, Response};
use tower_http::classify::{GrpcErrorsAsFailures, GrpcFailureClass, SharedClassifier};
use tower_http::trace::{MakeSpan, OnEos, OnFailure, OnResponse, TraceLayer};
use tracing::Span;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The layer: [`RpcSpan`] opens the span, [`RpcEnd`] records the status.
pub type RpcTraceLayer =
    TraceLayer<SharedClassifier<GrpcErrorsAsFailures>, RpcSpan, (), RpcEnd, (), RpcEnd, RpcEnd>;

/// The trace layer for the gRPC server, naming spans after the RPCs of
/// `descriptor_sets` (encoded `FileDescriptorSet`s: those the server
/// serves).
pub fn layer(descriptor_sets: &[&[u8]]) -> anyhow::Result<RpcTraceLayer> {
    Ok(TraceLayer::new_for_grpc()
        .make_span_with(RpcSpan {
            known: Arc::new(known_rpcs(descriptor_sets)?),
        })
        .on_request(())
        .on_response(RpcEnd)
        .on_body_chunk(())
        .on_eos(RpcEnd)
        .on_failure(RpcEnd))
}

/// What spans are called for a path that names no RPC of the server.
const OTHER: &str = "_OTHER";

/// `package.Service/Method` of every RPC in `descriptor_sets`.
fn known_rpcs(descriptor_sets: &[&[u8]]) -> anyhow::Result<HashSet<String>> {
    let mut known = HashSet::new();
    for set in descriptor_sets {
        let set = prost_types::FileDescriptorSet::decode(*set)?;
        for file in &set.file {
            let package = file.package();
            for service in &file.service {
                for method in &service.method {
                    known.insert(format!("{package}.{}/{}", service.name(), method.name()));
                }
            }
        }
    }
    Ok(known)
}

/// The span name for request `path`: the RPC, or [`OTHER`].
fn span_name<'a>(known: &HashSet<String>, path: &'a str) -> &'a str {
    let path = path.trim_start_matches('/');
    if known.contains(path) { path } else { OTHER }
}

/// Opens the span of one RPC.
#[derive(Clone, Debug)]
pub struct RpcSpan {
    /// `package.Service/Method` of every RPC the server has.
    known: Arc<HashSet<String>>,
}

impl<B> MakeSpan<B> for RpcSpan {
    fn make_span(&mut self, request: &Request<B>) -> Span {
        let name = span_name(&self.known, request.uri().path());
        let (service, method) = name.split_once('/').unwrap_or((OTHER, OTHER));
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
pub struct RpcEnd;

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
    fn spans_are_named_after_known_rpcs_only() {
        let health = tonic_health::pb::FILE_DESCRIPTOR_SET;
        let known = known_rpcs(&[icr_proto::FILE_DESCRIPTOR_SET, health]).unwrap();
        let authorize = "/icr.consent.v1.AccessDecisionService/Authorize";
        assert_eq!(span_name(&known, authorize), &authorize[1..]);
        let check = "/grpc.health.v1.Health/Check";
        assert_eq!(span_name(&known, check), &check[1..]);
        for unknown in [
            "/icr.consent.v1.AccessDecisionService/Nothing",
            "/x/y",
            "/",
            "",
        ] {
            assert_eq!(span_name(&known, unknown), OTHER, "{unknown}");
        }
    }

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

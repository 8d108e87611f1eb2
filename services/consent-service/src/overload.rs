//! Limits that keep the service answering under overload: past them a
//! request is refused at once (`ResourceExhausted`) instead of queueing
//! without bound, so a client can back off or try another replica.
//!
//! - a per-caller rate ([`RateLimit`], a token bucket per caller
//!   identity, so one busy caller cannot starve the others);
//! - a cap on requests in flight across all connections
//!   (`tower::limit::GlobalConcurrencyLimit` under `tower::load_shed`);
//! - HTTP/2 concurrent streams per connection, message size, and a longest
//!   time for any request (the server builder).
//!
//! Client deadlines (`grpc-timeout`) are honoured by tonic: a request past
//! its deadline is dropped, and the client is answered `Cancelled` or
//! `DeadlineExceeded`.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tonic::codegen::http;

use crate::access::Caller;
use crate::gate::Admission;
use crate::status::ServiceError;

/// The service's overload limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Requests handled at once across all connections (a stream counts
    /// until it starts sending); more are refused.
    pub max_in_flight: usize,
    /// Requests per second each caller may make (a burst of the same size
    /// is allowed); `None` sets no rate.
    pub per_caller_per_second: Option<NonZeroU32>,
    /// HTTP/2 streams each connection may have open.
    pub max_concurrent_streams: u32,
    /// Largest request message accepted, in bytes.
    pub max_message_bytes: usize,
    /// Longest any request may take, whatever deadline the client gave.
    pub request_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            // Well above what two cores serve at once (about 64 clients
            // saturate them); a queue longer than this only adds latency.
            max_in_flight: 1024,
            per_caller_per_second: None,
            max_concurrent_streams: 256,
            // The largest request, a policy change or a batch of 64
            // questions, is a few kilobytes.
            max_message_bytes: 1024 * 1024,
            // Longer than a write waiting for its flush and projections, or
            // a read waiting for consistency, ever should.
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// Refuses a caller's requests past its rate with `ResourceExhausted` (an
/// [`Admission`] for [`crate::gate::Gate`], placed after the access check,
/// which attaches the caller).
#[derive(Clone)]
pub(crate) struct RateLimit {
    limiter: Option<Arc<DefaultKeyedRateLimiter<String>>>,
}

/// Buckets kept before idle ones are dropped: without TLS the identity is
/// whatever a client sends.
const MAX_BUCKETS: usize = 10_000;

impl RateLimit {
    /// A bucket of `per_second` requests per caller, refilled continuously;
    /// `None` limits nothing.
    pub(crate) fn new(per_second: Option<NonZeroU32>) -> Self {
        Self {
            limiter: per_second.map(|n| Arc::new(RateLimiter::keyed(Quota::per_second(n)))),
        }
    }
}

impl Admission for RateLimit {
    fn admit<B>(&self, request: &mut http::Request<B>) -> Result<(), ServiceError> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        let identity = request
            .extensions()
            .get::<Arc<Caller>>()
            .map_or("", |caller| caller.identity.as_str());
        if limiter.len() > MAX_BUCKETS {
            limiter.retain_recent();
        }
        limiter
            .check_key(&identity.to_owned())
            .map_err(|_| ServiceError::OverRate {
                identity: identity.to_owned(),
            })
    }
}

/// Answers a request message over the size limit with `ResourceExhausted`,
/// the code gRPC specifies for it, rather than tonic's `OutOfRange`. The
/// status is in the trailers, or in the headers of a trailers-only reply.
pub(crate) fn too_large_is_resource_exhausted(
    response: http::Response<tonic::body::Body>,
) -> http::Response<tonic::body::Body> {
    use http_body_util::BodyExt;
    let (mut parts, body) = response.into_parts();
    recode_too_large(&mut parts.headers);
    let body = body.map_frame(|mut frame| {
        if let Some(trailers) = frame.trailers_mut() {
            recode_too_large(trailers);
        }
        frame
    });
    http::Response::from_parts(parts, tonic::body::Body::new(body))
}

/// Replaces the code in `grpc-status` when `status.rs` recodes it.
fn recode_too_large(headers: &mut http::HeaderMap) {
    let Some(status) = headers.get("grpc-status") else {
        return;
    };
    let message = headers.get("grpc-message").map(http::HeaderValue::as_bytes);
    if let Some(code) = crate::status::recoded(status.as_bytes(), message) {
        headers.insert("grpc-status", http::HeaderValue::from(code as u16));
    }
}

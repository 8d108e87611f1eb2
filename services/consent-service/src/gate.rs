//! A tower layer that admits or refuses each request before the router sees
//! it: the shape the access check and the rate limit share.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tonic::Status;
use tonic::codegen::http;

use crate::status::ServiceError;

/// Decides whether a request goes on; a refusal is answered at once with
/// its status. May attach what it learnt to the request's extensions.
pub(crate) trait Admission {
    /// `Ok` lets the request through; `Err` answers it with the status
    /// `status.rs` maps the error to.
    fn admit<B>(&self, request: &mut http::Request<B>) -> Result<(), ServiceError>;
}

/// Puts an [`Admission`] in front of a service.
#[derive(Debug, Clone)]
pub(crate) struct Gate<A>(pub A);

impl<A: Clone, S> tower::Layer<S> for Gate<A> {
    type Service = Gated<A, S>;

    fn layer(&self, inner: S) -> Self::Service {
        Gated {
            admission: self.0.clone(),
            inner,
        }
    }
}

/// The service a [`Gate`] wraps.
#[derive(Debug, Clone)]
pub(crate) struct Gated<A, S> {
    admission: A,
    inner: S,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<A, S, B, R> tower::Service<http::Request<B>> for Gated<A, S>
where
    A: Admission,
    S: tower::Service<http::Request<B>, Response = http::Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    R: Default + Send + 'static,
    B: Send + 'static,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        match self.admission.admit(&mut request) {
            Ok(()) => {
                // Call the instance that was polled ready; keep the clone.
                let clone = self.inner.clone();
                let mut ready = std::mem::replace(&mut self.inner, clone);
                Box::pin(ready.call(request))
            }
            Err(refused) => {
                let status: Status = refused.into();
                tracing::warn!(
                    path = request.uri().path(),
                    code = ?status.code(),
                    message = status.message(),
                    "request refused"
                );
                Box::pin(std::future::ready(Ok(status.into_http())))
            }
        }
    }
}

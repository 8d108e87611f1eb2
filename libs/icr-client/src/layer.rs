//! The fail-closed layer in front of a record server's handlers.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::codegen::http;

use crate::{Client, Question};

/// Why a request was refused, attached to the 403 response's extensions
/// and named in its `x-icr-refusal` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The request does not say whose record, which section or who asks.
    NoQuestion,
    /// The service decided DENY, for this reason.
    Denied(String),
    /// The service could not be asked or did not answer in time.
    Unanswered(String),
}

impl Refusal {
    fn header(&self) -> String {
        match self {
            Self::NoQuestion => "no-question".into(),
            Self::Denied(reason) => format!("denied; reason={reason}"),
            Self::Unanswered(code) => format!("unanswered; code={code}"),
        }
    }
}

/// Asks Authorize before a request reaches the record server's handler.
///
/// `ask` turns a request into the access question it raises (whose record,
/// which section, who is asking); a request it cannot turn into one is
/// refused. Only an ALLOW lets the request through; a DENY, an error or a
/// timeout answers `403 Forbidden` without calling the handler.
pub struct AuthorizeLayer<F> {
    client: Client,
    ask: Arc<F>,
}

impl<F> AuthorizeLayer<F> {
    /// A layer asking `client` the question `ask` finds in each request.
    pub fn new(client: Client, ask: F) -> Self {
        Self {
            client,
            ask: Arc::new(ask),
        }
    }
}

impl<F> Clone for AuthorizeLayer<F> {
    fn clone(&self) -> Self {
        Self {
            client: self.client.clone(),
            ask: Arc::clone(&self.ask),
        }
    }
}

impl<S, F> tower::Layer<S> for AuthorizeLayer<F> {
    type Service = Authorized<S, F>;

    fn layer(&self, inner: S) -> Self::Service {
        Authorized {
            inner,
            client: self.client.clone(),
            ask: Arc::clone(&self.ask),
        }
    }
}

/// The service [`AuthorizeLayer`] wraps around a handler.
pub struct Authorized<S, F> {
    inner: S,
    client: Client,
    ask: Arc<F>,
}

impl<S: Clone, F> Clone for Authorized<S, F> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            client: self.client.clone(),
            ask: Arc::clone(&self.ask),
        }
    }
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, F, B, R> tower::Service<http::Request<B>> for Authorized<S, F>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    F: Fn(&http::request::Parts) -> Option<Question> + Send + Sync + 'static,
    B: Send + 'static,
    R: Default + Send + 'static,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, clone);
        let client = self.client.clone();
        let (parts, body) = request.into_parts();
        let question = (self.ask)(&parts);
        Box::pin(async move {
            let refusal = match question {
                None => Refusal::NoQuestion,
                Some(question) => match client.authorize(&question).await {
                    Ok(decision) if decision.outcome == crate::pb::Outcome::Allow as i32 => {
                        return ready.call(http::Request::from_parts(parts, body)).await;
                    }
                    Ok(decision) => Refusal::Denied(decision.reason),
                    Err(status) => Refusal::Unanswered(format!("{:?}", status.code())),
                },
            };
            tracing::info!(?refusal, path = %parts.uri.path(), "record request refused");
            Ok(forbidden(refusal))
        })
    }
}

fn forbidden<R: Default>(refusal: Refusal) -> http::Response<R> {
    let mut response = http::Response::new(R::default());
    *response.status_mut() = http::StatusCode::FORBIDDEN;
    if let Ok(value) = http::HeaderValue::from_str(&refusal.header()) {
        response.headers_mut().insert("x-icr-refusal", value);
    }
    response.extensions_mut().insert(refusal);
    response
}

//! The admission check that identifies the caller of every request and refuses
//! the RPCs its kind may not call, before any handler runs.

use std::sync::Arc;

use tonic::codegen::http;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};

use crate::gate::Admission;
use crate::status::ServiceError;

use super::{Caller, Callers, Unidentified};
use crate::calling_system::CALLING_SYSTEM_HEADER;

/// Identifies callers and enforces what each kind may call (an
/// [`Admission`] for [`crate::gate::Gate`]).
///
/// With callers (mutual TLS), a request without a client certificate is
/// `Unauthenticated`, and one whose identity is unknown or whose kind does
/// not cover the service is `PermissionDenied`. The certificate identity
/// replaces any `x-calling-system` header, so what the service records as
/// the calling system is what the certificate proves. Without callers
/// (plain text, local development) every request passes with its
/// self-declared header.
#[derive(Debug, Clone)]
pub(crate) struct Access {
    callers: Option<Arc<Callers>>,
}

impl Access {
    /// Enforces `callers` on certificate identities.
    pub(crate) fn mutual_tls(callers: Callers) -> Self {
        Self {
            callers: Some(Arc::new(callers)),
        }
    }

    /// Lets every request through: local development only.
    pub(crate) fn development() -> Self {
        Self { callers: None }
    }
}

impl Admission for Access {
    /// Identifies the caller, checks the service it calls, and attaches the
    /// caller to the request.
    fn admit<B>(&self, request: &mut http::Request<B>) -> Result<(), ServiceError> {
        let caller = match &self.callers {
            None => Arc::new(self_declared(request)),
            Some(callers) => {
                let chain = request
                    .extensions()
                    .get::<TlsConnectInfo<TcpConnectInfo>>()
                    .and_then(TlsConnectInfo::peer_certs);
                let chain = chain.as_deref().map_or(&[][..], Vec::as_slice);
                let caller = callers.identify(chain).map_err(|why| match why {
                    Unidentified::NoCertificate => {
                        ServiceError::Unauthenticated("a client certificate is required".into())
                    }
                    Unidentified::NoIdentity => ServiceError::PermissionDenied(
                        "the client certificate names no DNS name or common name".into(),
                    ),
                    Unidentified::Unknown(identity) => ServiceError::PermissionDenied(format!(
                        "{identity} is not a configured caller"
                    )),
                })?;
                let value =
                    http::HeaderValue::try_from(caller.identity.as_str()).map_err(|_| {
                        ServiceError::PermissionDenied("the identity is not ASCII".into())
                    })?;
                request.headers_mut().insert(CALLING_SYSTEM_HEADER, value);
                caller
            }
        };
        let service = service_of(request.uri().path());
        if !caller.may_call(service) {
            return Err(ServiceError::PermissionDenied(format!(
                "{} may not call {service}",
                caller.identity
            )));
        }
        request.extensions_mut().insert(caller);
        Ok(())
    }
}

/// The development caller: whatever the header says (the handlers check it).
fn self_declared<B>(request: &http::Request<B>) -> Caller {
    let identity = request
        .headers()
        .get(CALLING_SYSTEM_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("unidentified");
    Caller::development(identity)
}

/// The gRPC service a request path names: `/package.Service/Method`.
fn service_of(path: &str) -> &str {
    path.trim_start_matches('/')
        .split_once('/')
        .map_or("", |(service, _)| service)
}

#[cfg(test)]
mod tests {
    use super::service_of;

    #[test]
    fn the_service_is_the_first_path_segment() {
        assert_eq!(
            service_of("/icr.consent.v1.AuditService/ReadEvents"),
            "icr.consent.v1.AuditService"
        );
        assert_eq!(service_of("/"), "");
        assert_eq!(service_of(""), "");
    }
}

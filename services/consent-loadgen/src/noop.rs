//! The transport floor: a gRPC service whose one unary method does nothing,
//! served the way `consent_service::run` serves the consent service (tonic's
//! server builder with its defaults, over a `TcpListenerStream`), so that
//! driving it measures tonic, HTTP/2 and loopback TCP and nothing else.

use std::future::Future;

use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status};

use crate::pb::bench_service_server::{BenchService, BenchServiceServer};
use crate::pb::{PingRequest, PingResponse};

/// Largest response payload the server sends, whatever is asked.
pub const MAX_RESPONSE_BYTES: u32 = 64 * 1024;

/// The no-op service.
#[derive(Debug, Clone, Copy, Default)]
pub struct Noop;

#[tonic::async_trait]
impl BenchService for Noop {
    async fn ping(&self, request: Request<PingRequest>) -> Result<Response<PingResponse>, Status> {
        let size = request.get_ref().response_bytes.min(MAX_RESPONSE_BYTES);
        Ok(Response::new(PingResponse {
            payload: vec![0; size as usize],
        }))
    }
}

/// How accepted connections are set up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sockets {
    /// Exactly as the consent service: the accepted socket as it comes,
    /// which leaves Nagle's algorithm on (tonic ignores its `tcp_nodelay`
    /// setting for a caller-supplied listener).
    #[default]
    AsTheService,
    /// With `TCP_NODELAY` set, to show what the setting is worth.
    NoDelay,
}

/// Serves the no-op service on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    sockets: Sockets,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let server = tonic::transport::Server::builder().add_service(BenchServiceServer::new(Noop));
    match sockets {
        Sockets::AsTheService => {
            server
                .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
                .await
        }
        Sockets::NoDelay => {
            let incoming =
                tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
            server
                .serve_with_incoming_shutdown(incoming, shutdown)
                .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_with_the_bytes_asked_for_up_to_the_cap() {
        let ask = |response_bytes| {
            Request::new(PingRequest {
                payload: vec![1; 40],
                response_bytes,
            })
        };
        let small = Noop.ping(ask(300)).await.unwrap().into_inner();
        assert_eq!(small.payload.len(), 300);
        let capped = Noop.ping(ask(u32::MAX)).await.unwrap().into_inner();
        assert_eq!(capped.payload.len(), MAX_RESPONSE_BYTES as usize);
    }
}

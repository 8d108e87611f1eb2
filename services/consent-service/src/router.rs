//! The gRPC server: every service, reflection, and the layers that trace,
//! authenticate and limit each request.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use icr_log::SledLog;
use tonic::transport::server::TcpIncoming;
use tonic_health::pb::health_server::{Health, HealthServer};

use crate::faults::Faulty;
use crate::view::View;
use crate::{Options, access, api, gate, overload, telemetry};

/// The server over `view` and `storage` on `incoming` until `shutdown` resolves and in-flight
/// requests have finished; `stopped` turns true when shutdown begins.
pub(crate) fn serve<H: Health, S: Future<Output = ()> + Send>(
    options: &Options,
    view: &Arc<View>,
    storage: &Faulty<SledLog>,
    health_service: HealthServer<H>,
    stopped: tokio::sync::watch::Receiver<bool>,
    incoming: TcpIncoming,
    shutdown: S,
) -> anyhow::Result<impl Future<Output = Result<(), tonic::transport::Error>> + Send + use<H, S>> {
    let described = [
        icr_proto::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
    ];
    // Both versions of reflection, as grpc-go serves them: v1alpha is what
    // older grpcurl and grpcui and several GUI clients still speak. Each
    // lists every service, the other version included.
    let reflection = || {
        described.iter().fold(
            tonic_reflection::server::Builder::configure().include_reflection_service(false),
            |builder, set| builder.register_encoded_file_descriptor_set(set),
        )
    };
    let reflection_v1alpha = reflection()
        .build_v1alpha()
        .context("server reflection (v1alpha)")?;
    let reflection = reflection().build_v1().context("server reflection")?;
    let traced = telemetry::rpc::layer(&described).context("naming RPC spans")?;
    let api = api::Api::new(
        storage.clone(),
        view.clone(),
        options.policy.clone(),
        stopped,
    );
    let limits = options.limits;
    let (decisions, consent, care, policy, audit) =
        api::servers::all(api, limits.max_message_bytes);
    let mut server = tonic::transport::Server::builder();
    let access = match options.tls.clone() {
        Some(tls) => {
            // Optional at the handshake so that a caller without a
            // certificate hears `Unauthenticated` rather than a reset.
            let config = tonic::transport::ServerTlsConfig::new()
                .identity(tls.identity)
                .client_ca_root(tls.client_ca)
                .client_auth_optional(true);
            server = server.tls_config(config).context("TLS configuration")?;
            access::Access::mutual_tls(tls.callers)
        }
        None => access::Access::development(),
    };
    Ok(server
        .max_concurrent_streams(limits.max_concurrent_streams)
        .timeout(limits.request_timeout)
        .layer(traced)
        .layer(tower::util::MapResponseLayer::new(
            overload::too_large_is_resource_exhausted,
        ))
        .layer(gate::Gate(access))
        .layer(gate::Gate(overload::RateLimit::new(
            limits.per_caller_per_second,
        )))
        .layer(tower::load_shed::LoadShedLayer::new())
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            limits.max_in_flight,
        ))
        .add_service(decisions)
        .add_service(consent)
        .add_service(care)
        .add_service(policy)
        .add_service(audit)
        .add_service(health_service)
        .add_service(reflection)
        .add_service(reflection_v1alpha)
        // Replies go out at once: with Nagle on, a reply of a few KB waits
        // for the client's delayed ACK (about 40 ms).
        .serve_with_incoming_shutdown(incoming, shutdown))
}

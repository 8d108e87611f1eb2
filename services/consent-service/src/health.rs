//! `grpc.health.v1`: what load balancers and orchestrators ask before they
//! send traffic.
//!
//! The whole service (`""`) and each of its five services report
//! `NOT_SERVING` until the projections have folded the log, `SERVING` while
//! decisions can be made, and `NOT_SERVING` again once the projections fail
//! (a read that cannot be retried, a break found by verification) or
//! shutdown begins, so that traffic drains before the process exits.

use std::sync::Arc;

use icr_proto::pb;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::view::View;

/// The names health is reported under.
const SERVICES: [&str; 6] = [
    "",
    pb::access_decision_service_server::SERVICE_NAME,
    pb::consent_service_server::SERVICE_NAME,
    pb::care_context_service_server::SERVICE_NAME,
    pb::policy_admin_service_server::SERVICE_NAME,
    pb::audit_service_server::SERVICE_NAME,
];

/// Sets every reported name to `status`.
pub(crate) async fn set(reporter: &HealthReporter, status: ServingStatus) {
    for service in SERVICES {
        reporter.set_service_status(service, status).await;
    }
}

/// Reports `SERVING` until the projections fail or `stopping` turns true,
/// then `NOT_SERVING` for good.
pub(crate) async fn keep(
    reporter: HealthReporter,
    view: Arc<View>,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    set(&reporter, ServingStatus::Serving).await;
    tokio::select! {
        () = view.failed() => tracing::warn!("projections failed: health is NOT_SERVING"),
        _ = stopping.wait_for(|stopping| *stopping) => {}
    }
    set(&reporter, ServingStatus::NotServing).await;
}

/// Serves only the health service on `listener`, in plain text, for probes
/// that do not speak TLS (the kubelet's), until `stop` resolves. It carries
/// no patient data, so it needs no caller identity.
pub(crate) fn serve_port<S>(
    listener: tokio::net::TcpListener,
    service: tonic_health::pb::health_server::HealthServer<S>,
    stop: impl Future<Output = ()> + Send + 'static,
) -> tokio::task::JoinHandle<()>
where
    S: tonic_health::pb::health_server::Health,
{
    tokio::spawn(async move {
        let incoming = tonic::transport::server::TcpIncoming::from(listener);
        let served = tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming_shutdown(incoming, stop)
            .await;
        if let Err(error) = served {
            tracing::error!(%error, "the health port stopped");
        }
    })
}

//! gRPC handlers, one file per service. A write RPC's request proposes its
//! event in its service's file (its envelope row and one impl per request
//! type, beside the tonic method) and takes the one path in `write` to a
//! command for [`crate::writes`]; a read validates its request and reads
//! [`crate::view`] or the log. Domain errors become statuses in
//! [`crate::status`].

mod audit;
mod care;
mod consent;
mod decisions;
mod heads;
mod history;
mod policy;
mod replay;
mod report;
mod review;
mod write;

use std::sync::Arc;
use std::time::Duration;

use crate::Storage;

use crate::aggregates::Aggregates;
use crate::policy_files::PolicyFiles;
use crate::status::{ServiceError, ServiceResult};
use crate::telemetry::metrics::Metrics;
use crate::view::View;

/// The handlers of every service, sharing the log and the view.
pub(crate) struct Api<L> {
    log: L,
    view: Arc<View>,
    /// Model and rules, for decisions rebuilt at a past position.
    files: PolicyFiles,
    /// True once the service is shutting down: live replays end.
    stopping: tokio::sync::watch::Receiver<bool>,
    /// Streams as the last writes folded them.
    aggregates: Aggregates,
    /// Held across a policy change's check and append, so that each is
    /// checked against every policy change before it.
    policy_writes: tokio::sync::Mutex<()>,
    /// Decisions and Authorize latency, for OpenTelemetry.
    metrics: Metrics,
}

impl<L: Storage> Api<L> {
    pub(crate) fn new(
        log: L,
        view: Arc<View>,
        files: PolicyFiles,
        stopping: tokio::sync::watch::Receiver<bool>,
    ) -> Arc<Self> {
        Arc::new(Self {
            log,
            view,
            files,
            stopping,
            aggregates: Aggregates::new(),
            policy_writes: tokio::sync::Mutex::new(()),
            metrics: Metrics::new(),
        })
    }
}

/// Longest a read waits for the projections to catch up.
const CONSISTENCY_WAIT: Duration = Duration::from_secs(5);

impl<L: Storage> Api<L> {
    /// Waits until the projections have applied `min_log_position` and
    /// everything that was durable when the read arrived: an acknowledged
    /// write binds every later read. Errs rather than answer from older
    /// state: `OutOfRange` when the position is still past the log's head
    /// once the wait is over (nothing will reach it unless written),
    /// `Unavailable` when the log has it but the projections lag.
    pub(crate) async fn caught_up(&self, min_log_position: u64) -> ServiceResult<()> {
        let durable = *self.log.subscribe().borrow();
        let waited = self
            .view
            .wait_for(min_log_position.max(durable), CONSISTENCY_WAIT)
            .await;
        match waited {
            Err(ServiceError::Lagging { wanted, .. }) => {
                let head = *self.log.subscribe().borrow();
                if wanted > head {
                    Err(ServiceError::PastHead { head, wanted })
                } else {
                    waited
                }
            }
            other => other,
        }
    }
}

/// Wraps each service trait around the shared handlers.
pub(crate) mod servers {
    use super::*;
    use icr_proto::pb::access_decision_service_server::AccessDecisionServiceServer;
    use icr_proto::pb::audit_service_server::AuditServiceServer;
    use icr_proto::pb::care_context_service_server::CareContextServiceServer;
    use icr_proto::pb::consent_service_server::ConsentServiceServer;
    use icr_proto::pb::policy_admin_service_server::PolicyAdminServiceServer;

    /// A clonable handle implementing every service trait.
    pub(crate) struct Handle<L>(pub(crate) Arc<Api<L>>);

    impl<L> Clone for Handle<L> {
        fn clone(&self) -> Self {
            Self(Arc::clone(&self.0))
        }
    }

    /// The five services, ready to add to a router.
    pub(crate) type Servers<L> = (
        AccessDecisionServiceServer<Handle<L>>,
        ConsentServiceServer<Handle<L>>,
        CareContextServiceServer<Handle<L>>,
        PolicyAdminServiceServer<Handle<L>>,
        AuditServiceServer<Handle<L>>,
    );

    /// Builds the five services over one set of handlers, each refusing
    /// request messages over `max_message_bytes`.
    pub(crate) fn all<L: Storage>(api: Arc<Api<L>>, max_message_bytes: usize) -> Servers<L> {
        let h = Handle(api);
        (
            AccessDecisionServiceServer::new(h.clone())
                .max_decoding_message_size(max_message_bytes),
            ConsentServiceServer::new(h.clone()).max_decoding_message_size(max_message_bytes),
            CareContextServiceServer::new(h.clone()).max_decoding_message_size(max_message_bytes),
            PolicyAdminServiceServer::new(h.clone()).max_decoding_message_size(max_message_bytes),
            AuditServiceServer::new(h).max_decoding_message_size(max_message_bytes),
        )
    }
}

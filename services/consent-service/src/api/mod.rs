//! gRPC handlers, one file per service. Each handler validates its request,
//! builds a domain command or query, and leaves the rest to [`crate::writes`]
//! and [`crate::view`]. Domain errors become statuses in [`crate::status`].

/// Body of a write RPC whose handler takes `(&metadata, request)`: split the
/// request, run the handler, wrap its [`WriteResult`] in the response type.
macro_rules! write_rpc {
    ($self:ident, $request:ident, $handler:ident, $response:ident) => {{
        let (metadata, _, req) = $request.into_parts();
        let result = $self.0.$handler(&metadata, req).await?;
        Ok(tonic::Response::new($response {
            result: Some(result),
        }))
    }};
}

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

pub(crate) use policy::validate_policy_event;

use std::sync::Arc;
use std::time::Duration;

use crate::Storage;
use icr_proto::pb::{EventPayload, WriteResult};
use prost::Message;
use tonic::metadata::MetadataMap;

use crate::aggregates::Aggregates;
use crate::policy_files::PolicyFiles;
use crate::status::{ServiceError, ServiceResult};
use crate::telemetry::metrics::Metrics;
use crate::validate;
use crate::view::View;
use crate::writes::{self, Command, actor, fingerprint};

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

/// The parts every write request has.
pub(crate) struct WriteParts<'a> {
    /// RPC name, part of the fingerprint.
    pub(crate) rpc: &'static str,
    /// Request metadata (calling system).
    pub(crate) metadata: &'a MetadataMap,
    /// The user named in the request.
    pub(crate) user_id: &'a str,
    /// The patient an attorney acts for, or empty.
    pub(crate) on_behalf_of: &'a str,
    /// Expected stream version, if the client gave one.
    pub(crate) expected_version: Option<u64>,
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

    /// Validates the request id and actor, fingerprints the request and runs
    /// the write. `request_id` is taken out of `request` before hashing so a
    /// retry hashes the same.
    pub(crate) async fn write<M: Message>(
        &self,
        parts: WriteParts<'_>,
        request_id: String,
        request: &M,
        payload: EventPayload,
    ) -> ServiceResult<WriteResult> {
        validate::id("request_id", &request_id)?;
        let command = Command {
            request_id,
            fingerprint: fingerprint(parts.rpc, request),
            expected_version: parts.expected_version,
            actor: actor(parts.metadata, parts.user_id, parts.on_behalf_of)?,
            payload,
        };
        writes::execute(&self.log, &self.view, &self.aggregates, command).await
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

//! PolicyAdminService: organisations, role policy and region policy, each
//! change an event validated as strictly as the engine will read it.

use crate::Storage;
use icr_decision::Engine;
use icr_events::FieldError;
use icr_proto::pb::event_payload::Kind;
use icr_proto::pb::policy_admin_service_server::PolicyAdminService;
use icr_proto::pb::*;
use tonic::{Request, Response, Status};

use super::Api;
use super::servers::Handle;
use super::write::Proposal;
use crate::status::ServiceResult;

/// Checks a policy event the way the decision engine will read it; the
/// pack loaded at first start goes through the same check (`icr-packs`).
pub(crate) use icr_packs::validate_policy_event;

impl<L: Storage> Api<L> {
    /// Builds the engine the current policy with `payload` applied would
    /// get, so that a policy the engine cannot be built from (every decision
    /// a deny) never reaches the log.
    async fn check_engine_builds(&self, payload: &EventPayload) -> Result<(), FieldError> {
        let mut policy = self.view.read(|p, _| p.policy().clone());
        policy.apply(u64::MAX, payload);
        let files = &self.files;
        Engine::build(&files.model, &files.rules, &policy.policy_set())
            .await
            .map(drop)
            .map_err(|e| {
                let why = format!("the decision engine cannot be built with this policy: {e}");
                FieldError::new("payload", why)
            })
    }

    /// The proposal of a policy change, checked the way the engine will
    /// read it; it holds the policy lock until the change is written.
    pub(crate) async fn policy_change(&self, kind: Kind) -> ServiceResult<Proposal<'_>> {
        let payload = EventPayload { kind: Some(kind) };
        validate_policy_event(&payload)?;
        // One policy change at a time, checked against the policy as of
        // everything durable: two changes that each build alone may not
        // build together.
        let serialised = self.policy_writes.lock().await;
        self.caught_up(0).await?;
        self.check_engine_builds(&payload).await?;
        Ok(Proposal {
            serialised: Some(serialised),
            ..Proposal::of(payload)
        })
    }
}

#[tonic::async_trait]
impl<L: Storage> PolicyAdminService for Handle<L> {
    async fn join_organisation(
        &self,
        request: Request<JoinOrganisationRequest>,
    ) -> Result<Response<JoinOrganisationResponse>, Status> {
        self.write(request).await
    }

    async fn leave_organisation(
        &self,
        request: Request<LeaveOrganisationRequest>,
    ) -> Result<Response<LeaveOrganisationResponse>, Status> {
        self.write(request).await
    }

    async fn set_role_policy(
        &self,
        request: Request<SetRolePolicyRequest>,
    ) -> Result<Response<SetRolePolicyResponse>, Status> {
        self.write(request).await
    }

    async fn set_region_policy(
        &self,
        request: Request<SetRegionPolicyRequest>,
    ) -> Result<Response<SetRegionPolicyResponse>, Status> {
        self.write(request).await
    }
}

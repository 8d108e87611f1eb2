//! PolicyAdminService: organisations, role policy and region policy, each
//! change an event validated as strictly as the engine will read it.

use crate::Storage;
use icr_decision::Engine;
use icr_events::FieldError;
use icr_proto::pb::event_payload::Kind;
use icr_proto::pb::policy_admin_service_server::PolicyAdminService;
use icr_proto::pb::*;
use tonic::{Request, Response, Status};

use super::servers::Handle;
use super::{Api, WriteParts};
use crate::status::{ServiceError, ServiceResult};
use crate::validate;

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

    async fn policy_write(
        &self,
        parts: WriteParts<'_>,
        request_id: String,
        request: &impl prost::Message,
        kind: Kind,
    ) -> ServiceResult<WriteResult> {
        let payload = EventPayload { kind: Some(kind) };
        validate_policy_event(&payload)?;
        // One policy change at a time, checked against the policy as of
        // everything durable: two changes that each build alone may not
        // build together.
        let _serialised = self.policy_writes.lock().await;
        self.caught_up(0).await?;
        self.check_engine_builds(&payload).await?;
        self.write(parts, request_id, request, payload).await
    }
}

/// Runs one policy RPC: take the request id and expected stream version out,
/// build the event, write.
macro_rules! policy_rpc {
    ($self:ident, $request:ident, $rpc:literal, $response:ident, |$req:ident| $kind:expr) => {{
        let (metadata, _, mut $req) = $request.into_parts();
        let request_id = std::mem::take(&mut $req.request_id);
        // A retry may re-read the stream version; it is not part of what the
        // request asks for, so it stays out of the fingerprint.
        let expected_version = $req.expected_stream_version.take();
        let kind = $kind;
        let parts = WriteParts {
            rpc: $rpc,
            metadata: &metadata,
            user_id: &$req.user_id,
            on_behalf_of: "",
            expected_version,
        };
        let result = $self.0.policy_write(parts, request_id, &$req, kind).await?;
        Ok(Response::new($response {
            result: Some(result),
        }))
    }};
}

#[tonic::async_trait]
impl<L: Storage> PolicyAdminService for Handle<L> {
    async fn join_organisation(
        &self,
        request: Request<JoinOrganisationRequest>,
    ) -> Result<Response<JoinOrganisationResponse>, Status> {
        policy_rpc!(
            self,
            request,
            "JoinOrganisation",
            JoinOrganisationResponse,
            |req| {
                validate::ods("ods_code", &mut req.ods_code).map_err(ServiceError::from)?;
                Kind::OrganisationJoined(OrganisationJoined {
                    ods_code: req.ods_code.clone(),
                    name: req.name.clone(),
                    region: req.region.clone(),
                })
            }
        )
    }

    async fn leave_organisation(
        &self,
        request: Request<LeaveOrganisationRequest>,
    ) -> Result<Response<LeaveOrganisationResponse>, Status> {
        policy_rpc!(
            self,
            request,
            "LeaveOrganisation",
            LeaveOrganisationResponse,
            |req| {
                validate::ods("ods_code", &mut req.ods_code).map_err(ServiceError::from)?;
                Kind::OrganisationLeft(OrganisationLeft {
                    ods_code: req.ods_code.clone(),
                })
            }
        )
    }

    async fn set_role_policy(
        &self,
        request: Request<SetRolePolicyRequest>,
    ) -> Result<Response<SetRolePolicyResponse>, Status> {
        policy_rpc!(
            self,
            request,
            "SetRolePolicy",
            SetRolePolicyResponse,
            |req| Kind::RolePolicySet(RolePolicySet {
                role_code: req.role_code.clone(),
                description: req.description.clone(),
                sections: req.sections.clone(),
                purposes: req.purposes.clone(),
                clinical: req.clinical,
            })
        )
    }

    async fn set_region_policy(
        &self,
        request: Request<SetRegionPolicyRequest>,
    ) -> Result<Response<SetRegionPolicyResponse>, Status> {
        policy_rpc!(
            self,
            request,
            "SetRegionPolicy",
            SetRegionPolicyResponse,
            |req| Kind::RegionPolicySet(RegionPolicySet {
                region: req.region.clone(),
                name: req.name.clone(),
                consent_model: req.consent_model,
                minimum_age: req.minimum_age,
                viewing_regions: req.viewing_regions.clone(),
                break_glass: req.break_glass,
                self_claimed_relationship: req.self_claimed_relationship,
                review_within_days: req.review_within_days,
                secondary_use_pseudonymised: req.secondary_use_pseudonymised,
                children_social_care_from: req.children_social_care_from.clone(),
            })
        )
    }
}

//! PolicyAdminService: organisations, role policy and region policy, each
//! change an event validated as strictly as the engine will read it, one at
//! a time (see [`Api::policy_change`]). The pack loaded at first start goes
//! through the same check (`icr_packs::validate_policy_event`).

use icr_decision::Engine;
use icr_events::FieldError;
use icr_packs::validate_policy_event;
use icr_proto::pb::event_payload::Kind;
use icr_proto::pb::policy_admin_service_server::PolicyAdminService;
use icr_proto::pb::*;
use tonic::{Request, Response, Status};

use super::Api;
use super::servers::Handle;
use super::write::{Proposal, WriteRequest, envelopes};
use crate::Storage;
use crate::status::ServiceResult;
use crate::validate;

envelopes! {
    JoinOrganisationRequest: "JoinOrganisation" => JoinOrganisationResponse;
    LeaveOrganisationRequest: "LeaveOrganisation" => LeaveOrganisationResponse;
    SetRolePolicyRequest: "SetRolePolicy" => SetRolePolicyResponse;
    SetRegionPolicyRequest: "SetRegionPolicy" => SetRegionPolicyResponse;
}

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

impl WriteRequest for JoinOrganisationRequest {
    async fn propose<'a, L: Storage>(&mut self, api: &'a Api<L>) -> ServiceResult<Proposal<'a>> {
        validate::ods("ods_code", &mut self.ods_code)?;
        let kind = Kind::OrganisationJoined(OrganisationJoined {
            ods_code: self.ods_code.clone(),
            name: self.name.clone(),
            region: self.region.clone(),
        });
        api.policy_change(kind).await
    }
}

impl WriteRequest for LeaveOrganisationRequest {
    async fn propose<'a, L: Storage>(&mut self, api: &'a Api<L>) -> ServiceResult<Proposal<'a>> {
        validate::ods("ods_code", &mut self.ods_code)?;
        let kind = Kind::OrganisationLeft(OrganisationLeft {
            ods_code: self.ods_code.clone(),
        });
        api.policy_change(kind).await
    }
}

impl WriteRequest for SetRolePolicyRequest {
    async fn propose<'a, L: Storage>(&mut self, api: &'a Api<L>) -> ServiceResult<Proposal<'a>> {
        let kind = Kind::RolePolicySet(RolePolicySet {
            role_code: self.role_code.clone(),
            description: self.description.clone(),
            sections: self.sections.clone(),
            purposes: self.purposes.clone(),
            clinical: self.clinical,
        });
        api.policy_change(kind).await
    }
}

impl WriteRequest for SetRegionPolicyRequest {
    async fn propose<'a, L: Storage>(&mut self, api: &'a Api<L>) -> ServiceResult<Proposal<'a>> {
        let kind = Kind::RegionPolicySet(RegionPolicySet {
            region: self.region.clone(),
            name: self.name.clone(),
            consent_model: self.consent_model,
            minimum_age: self.minimum_age,
            viewing_regions: self.viewing_regions.clone(),
            break_glass: self.break_glass,
            self_claimed_relationship: self.self_claimed_relationship,
            review_within_days: self.review_within_days,
            secondary_use_pseudonymised: self.secondary_use_pseudonymised,
            children_social_care_from: self.children_social_care_from.clone(),
        });
        api.policy_change(kind).await
    }
}

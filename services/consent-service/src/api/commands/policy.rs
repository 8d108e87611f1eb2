//! The policy RPCs' requests: each change is checked as the engine will
//! read it, one at a time (see [`Api::policy_change`]).

use icr_proto::pb::event_payload::Kind;
use icr_proto::pb::*;

use crate::Storage;
use crate::api::Api;
use crate::api::write::{Proposal, WriteRequest};
use crate::status::ServiceResult;
use crate::validate;

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

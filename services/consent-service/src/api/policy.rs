//! PolicyAdminService: organisations, role policy and region policy, each
//! change an event validated as strictly as the engine will read it.

use crate::Storage;
use icr_decision::Engine;
use icr_events::FieldError;
use icr_events::codes::{
    consent_model, iso_date, ods_code, purpose, region_code, role_code, section,
};
use icr_proto::pb::event_payload::Kind;
use icr_proto::pb::policy_admin_service_server::PolicyAdminService;
use icr_proto::pb::*;
use tonic::{Request, Response, Status};

use super::Api;
use super::servers::Handle;
use super::write::Proposal;
use crate::status::ServiceResult;
use crate::validate;

use crate::validate::limits::{
    MAX_MINIMUM_AGE, MAX_REVIEW_DAYS, MAX_ROLE_PURPOSES, MAX_ROLE_SECTIONS, MAX_VIEWING_REGIONS,
};

/// Refuses a list that names the same value twice: each policy line is
/// multiplied out when the engine is built, so repeats only cost.
fn distinct<T: Ord>(field: &str, values: &[T]) -> Result<(), FieldError> {
    let unique: std::collections::BTreeSet<_> = values.iter().collect();
    if unique.len() == values.len() {
        Ok(())
    } else {
        Err(FieldError::new(field, "must not repeat a value"))
    }
}

/// An ODS code already in its one, upper-case form: the policy RPCs
/// rewrite a request's code before the event is built, so only a pack file
/// can bring another form here, and it is refused rather than recorded.
fn recorded_ods(field: &str, value: &str) -> Result<(), FieldError> {
    if ods_code(field, value)? == value {
        Ok(())
    } else {
        Err(FieldError::new(field, "must be written upper-case, as RKB"))
    }
}

/// Checks a policy event the way the decision engine will read it, so a bad
/// policy is refused before it reaches the log. The policy pack loaded at
/// first start goes through here too.
pub(crate) fn validate_policy_event(payload: &EventPayload) -> Result<(), FieldError> {
    match payload.kind.as_ref() {
        Some(Kind::OrganisationJoined(e)) => {
            recorded_ods("ods_code", &e.ods_code)?;
            validate::name("name", &e.name)?;
            region_code("region", &e.region)
        }
        Some(Kind::OrganisationLeft(e)) => recorded_ods("ods_code", &e.ods_code),
        Some(Kind::RolePolicySet(e)) => {
            role_code("role_code", &e.role_code)?;
            validate::name("description", &e.description)?;
            validate::at_most("sections", e.sections.len(), MAX_ROLE_SECTIONS)?;
            validate::at_most("purposes", e.purposes.len(), MAX_ROLE_PURPOSES)?;
            for (i, &s) in e.sections.iter().enumerate() {
                section(&format!("sections[{i}]"), s)?;
            }
            distinct("sections", &e.sections)?;
            distinct("purposes", &e.purposes)?;
            if e.purposes.is_empty() {
                return Err(FieldError::new(
                    "purposes",
                    "must list at least one purpose",
                ));
            }
            for (i, &p) in e.purposes.iter().enumerate() {
                purpose(&format!("purposes[{i}]"), p)?;
            }
            Ok(())
        }
        Some(Kind::RegionPolicySet(e)) => {
            region_code("region", &e.region)?;
            validate::name("name", &e.name)?;
            consent_model("consent_model", e.consent_model)?;
            if e.minimum_age > MAX_MINIMUM_AGE {
                return Err(FieldError::new(
                    "minimum_age",
                    format!("must be at most {MAX_MINIMUM_AGE}"),
                ));
            }
            validate::at_most(
                "viewing_regions",
                e.viewing_regions.len(),
                MAX_VIEWING_REGIONS,
            )?;
            for (i, r) in e.viewing_regions.iter().enumerate() {
                region_code(&format!("viewing_regions[{i}]"), r)?;
            }
            distinct("viewing_regions", &e.viewing_regions)?;
            if !e.children_social_care_from.is_empty() {
                iso_date("children_social_care_from", &e.children_social_care_from)?;
            }
            // Exceptional access is only allowed with a real review period.
            let exceptional = e.break_glass || e.self_claimed_relationship;
            let min_review = u32::from(exceptional);
            if !(min_review..=MAX_REVIEW_DAYS).contains(&e.review_within_days) {
                return Err(FieldError::new(
                    "review_within_days",
                    format!("must be {min_review} to {MAX_REVIEW_DAYS} days"),
                ));
            }
            Ok(())
        }
        _ => Err(FieldError::new("payload", "not a policy event")),
    }
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

//! CareContextService: GP registrations and care relationships, each
//! request turned into the event it proposes beside its tonic method.

use icr_events::FieldError;
use icr_events::codes::{care_relationship_kind, iso_date};
use icr_projections::PolicyState;
use icr_proto::pb::care_context_service_server::CareContextService;
use icr_proto::pb::event_payload::Kind;
use icr_proto::pb::*;
use tonic::{Request, Response, Status};

use super::Api;
use super::servers::Handle;
use super::write::{Proposal, WriteRequest, envelopes, payload};
use crate::Storage;
use crate::status::ServiceResult;
use crate::validate;

envelopes! {
    RegisterPatientRequest: "RegisterPatient" => RegisterPatientResponse;
    StartCareRelationshipRequest: "StartCareRelationship" => StartCareRelationshipResponse;
    EndCareRelationshipRequest: "EndCareRelationship" => EndCareRelationshipResponse;
}

#[tonic::async_trait]
impl<L: Storage> CareContextService for Handle<L> {
    async fn register_patient(
        &self,
        request: Request<RegisterPatientRequest>,
    ) -> Result<Response<RegisterPatientResponse>, Status> {
        self.write(request).await
    }

    async fn start_care_relationship(
        &self,
        request: Request<StartCareRelationshipRequest>,
    ) -> Result<Response<StartCareRelationshipResponse>, Status> {
        self.write(request).await
    }

    async fn end_care_relationship(
        &self,
        request: Request<EndCareRelationshipRequest>,
    ) -> Result<Response<EndCareRelationshipResponse>, Status> {
        self.write(request).await
    }
}

/// Why a patient registered with `practice` is outside the population as
/// `policy` stands, or empty when the practice brings them in (the
/// region's minimum age aside): the same two facts the decision's
/// `outside_population` reads.
fn outside_population(policy: &PolicyState, practice: &str) -> String {
    match policy.region_of(practice) {
        None => format!("practice {practice} is not in the sharing agreement"),
        Some(region) if !policy.regions.contains_key(region) => {
            format!("practice {practice} is in region {region}, which has no policy")
        }
        Some(_) => String::new(),
    }
}

impl WriteRequest for RegisterPatientRequest {
    async fn propose<'a, L: Storage>(&mut self, _: &'a Api<L>) -> ServiceResult<Proposal<'a>> {
        validate::canonical_nhs_number("nhs_number", &mut self.nhs_number)?;
        validate::ods("gp_practice_ods", &mut self.gp_practice_ods)?;
        let dob = iso_date("date_of_birth", &self.date_of_birth)?;
        if dob > icr_events::uk_date(jiff::Timestamp::now()) {
            return Err(FieldError::new("date_of_birth", "must not be in the future").into());
        }
        Ok(Proposal::of(payload(Kind::PatientRegistered(
            PatientRegistered {
                nhs_number: self.nhs_number.clone(),
                gp_practice_ods: self.gp_practice_ods.clone(),
                date_of_birth: self.date_of_birth.clone(),
            },
        ))))
    }

    /// Also says when the practice leaves the patient outside the
    /// population, so the feed hears it at once rather than from denies.
    fn respond<L: Storage>(&self, api: &Api<L>, result: WriteResult) -> Self::Response {
        let practice = &self.gp_practice_ods;
        RegisterPatientResponse {
            result: Some(result),
            outside_population: api
                .view
                .read(|p, _| outside_population(p.policy(), practice)),
        }
    }
}

impl WriteRequest for StartCareRelationshipRequest {
    async fn propose<'a, L: Storage>(&mut self, _: &'a Api<L>) -> ServiceResult<Proposal<'a>> {
        validate::canonical_nhs_number("nhs_number", &mut self.nhs_number)?;
        validate::id("relationship_id", &self.relationship_id)?;
        validate::ods("organisation_ods", &mut self.organisation_ods)?;
        let kind = care_relationship_kind("kind", self.kind)?;
        Ok(Proposal::of(payload(Kind::CareRelationshipStarted(
            CareRelationshipStarted {
                nhs_number: self.nhs_number.clone(),
                relationship_id: self.relationship_id.clone(),
                organisation_ods: self.organisation_ods.clone(),
                kind: kind.into(),
            },
        ))))
    }
}

impl WriteRequest for EndCareRelationshipRequest {
    async fn propose<'a, L: Storage>(&mut self, _: &'a Api<L>) -> ServiceResult<Proposal<'a>> {
        validate::canonical_nhs_number("nhs_number", &mut self.nhs_number)?;
        validate::id("relationship_id", &self.relationship_id)?;
        Ok(Proposal::of(payload(Kind::CareRelationshipEnded(
            CareRelationshipEnded {
                nhs_number: self.nhs_number.clone(),
                relationship_id: self.relationship_id.clone(),
            },
        ))))
    }
}

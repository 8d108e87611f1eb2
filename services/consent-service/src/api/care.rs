//! CareContextService: GP registrations and care relationships.

use crate::Storage;
use icr_events::FieldError;
use icr_events::codes::{care_relationship_kind, iso_date};
use icr_projections::PolicyState;
use icr_proto::pb::care_context_service_server::CareContextService;
use icr_proto::pb::event_payload::Kind;
use icr_proto::pb::*;
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status};

use super::servers::Handle;
use super::{Api, WriteParts};
use crate::status::ServiceResult;
use crate::validate;

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

impl<L: Storage> Api<L> {
    async fn register_patient(
        &self,
        metadata: &MetadataMap,
        mut req: RegisterPatientRequest,
    ) -> ServiceResult<RegisterPatientResponse> {
        let request_id = std::mem::take(&mut req.request_id);
        // A retry may re-read the stream version; it is not part of what the
        // request asks for, so it stays out of the fingerprint.
        let expected_version = req.expected_stream_version.take();
        validate::canonical_nhs_number("nhs_number", &mut req.nhs_number)?;
        validate::ods("gp_practice_ods", &mut req.gp_practice_ods)?;
        let dob = iso_date("date_of_birth", &req.date_of_birth)?;
        if dob > icr_events::uk_date(jiff::Timestamp::now()) {
            return Err(FieldError::new("date_of_birth", "must not be in the future").into());
        }
        let event = PatientRegistered {
            nhs_number: req.nhs_number.clone(),
            gp_practice_ods: req.gp_practice_ods.clone(),
            date_of_birth: req.date_of_birth.clone(),
        };
        let parts = WriteParts {
            rpc: "RegisterPatient",
            metadata,
            user_id: &req.user_id,
            on_behalf_of: "",
            expected_version,
        };
        let result = self
            .write(
                parts,
                request_id,
                &req,
                EventPayload {
                    kind: Some(Kind::PatientRegistered(event)),
                },
            )
            .await?;
        let practice = &req.gp_practice_ods;
        let outside_population = self
            .view
            .read(|p, _| outside_population(p.policy(), practice));
        Ok(RegisterPatientResponse {
            result: Some(result),
            outside_population,
        })
    }

    async fn start_relationship(
        &self,
        metadata: &MetadataMap,
        mut req: StartCareRelationshipRequest,
    ) -> ServiceResult<WriteResult> {
        let request_id = std::mem::take(&mut req.request_id);
        // A retry may re-read the stream version; it is not part of what the
        // request asks for, so it stays out of the fingerprint.
        let expected_version = req.expected_stream_version.take();
        validate::canonical_nhs_number("nhs_number", &mut req.nhs_number)?;
        validate::id("relationship_id", &req.relationship_id)?;
        validate::ods("organisation_ods", &mut req.organisation_ods)?;
        let kind = care_relationship_kind("kind", req.kind)?;
        let event = CareRelationshipStarted {
            nhs_number: req.nhs_number.clone(),
            relationship_id: req.relationship_id.clone(),
            organisation_ods: req.organisation_ods.clone(),
            kind: kind.into(),
        };
        let parts = WriteParts {
            rpc: "StartCareRelationship",
            metadata,
            user_id: &req.user_id,
            on_behalf_of: "",
            expected_version,
        };
        self.write(
            parts,
            request_id,
            &req,
            EventPayload {
                kind: Some(Kind::CareRelationshipStarted(event)),
            },
        )
        .await
    }

    async fn end_relationship(
        &self,
        metadata: &MetadataMap,
        mut req: EndCareRelationshipRequest,
    ) -> ServiceResult<WriteResult> {
        let request_id = std::mem::take(&mut req.request_id);
        // A retry may re-read the stream version; it is not part of what the
        // request asks for, so it stays out of the fingerprint.
        let expected_version = req.expected_stream_version.take();
        validate::canonical_nhs_number("nhs_number", &mut req.nhs_number)?;
        validate::id("relationship_id", &req.relationship_id)?;
        let event = CareRelationshipEnded {
            nhs_number: req.nhs_number.clone(),
            relationship_id: req.relationship_id.clone(),
        };
        let parts = WriteParts {
            rpc: "EndCareRelationship",
            metadata,
            user_id: &req.user_id,
            on_behalf_of: "",
            expected_version,
        };
        self.write(
            parts,
            request_id,
            &req,
            EventPayload {
                kind: Some(Kind::CareRelationshipEnded(event)),
            },
        )
        .await
    }
}

#[tonic::async_trait]
impl<L: Storage> CareContextService for Handle<L> {
    async fn register_patient(
        &self,
        request: Request<RegisterPatientRequest>,
    ) -> Result<Response<RegisterPatientResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        Ok(Response::new(
            self.0.register_patient(&metadata, req).await?,
        ))
    }

    async fn start_care_relationship(
        &self,
        request: Request<StartCareRelationshipRequest>,
    ) -> Result<Response<StartCareRelationshipResponse>, Status> {
        write_rpc!(
            self,
            request,
            start_relationship,
            StartCareRelationshipResponse
        )
    }

    async fn end_care_relationship(
        &self,
        request: Request<EndCareRelationshipRequest>,
    ) -> Result<Response<EndCareRelationshipResponse>, Status> {
        write_rpc!(self, request, end_relationship, EndCareRelationshipResponse)
    }
}

//! ConsentService: objections, attorneys and permissions to view.

use crate::Storage;
use icr_events::codes::{iso_date, objection_scope, power_of_attorney_kind};
use icr_events::{FieldError, Patient, timestamp_from_proto, timestamp_to_proto};
use icr_proto::pb::consent_service_server::ConsentService;
use icr_proto::pb::event_payload::Kind;
use icr_proto::pb::*;
use tonic::{Request, Response, Status};

use super::servers::Handle;
use super::{Api, WriteParts};
use crate::status::ServiceResult;
use crate::validate;

fn payload(kind: Kind) -> EventPayload {
    EventPayload { kind: Some(kind) }
}

/// The patient an attorney acts for, for the actor's on-behalf-of.
fn on_behalf<'a>(attorney_id: &str, nhs_number: &'a str) -> &'a str {
    if attorney_id.is_empty() {
        ""
    } else {
        nhs_number
    }
}

fn status_of(
    nhs_number: &str,
    patient: Option<&Patient>,
    position: u64,
) -> GetConsentStatusResponse {
    let default = Patient::default();
    let p = patient.unwrap_or(&default);
    GetConsentStatusResponse {
        nhs_number: nhs_number.to_owned(),
        registered: p.registration().is_some(),
        gp_practice_ods: p
            .registration()
            .map(|r| r.gp_practice_ods.to_string())
            .unwrap_or_default(),
        date_of_birth: p
            .registration()
            .map(|r| r.date_of_birth.to_string())
            .unwrap_or_default(),
        active_objections: p.objections().collect(),
        powers_of_attorney: p
            .attorneys()
            .map(|(id, a)| PowerOfAttorney {
                attorney_id: id.to_owned(),
                kind: a.kind.into(),
                verified_by: a.verified_by.clone(),
                valid_from: a.valid_from.to_string(),
                valid_until: a.valid_until.map(|d| d.to_string()).unwrap_or_default(),
            })
            .collect(),
        care_relationships: p
            .care_relationships()
            .iter()
            .map(|r| CareRelationship {
                relationship_id: r.relationship_id.to_string(),
                organisation_ods: r.organisation_ods.to_string(),
                kind: r.kind.into(),
            })
            .collect(),
        permissions_to_view: p
            .permissions_to_view()
            .map(|(org, until)| PermissionToView {
                organisation_ods: org.to_owned(),
                until: Some(timestamp_to_proto(until)),
            })
            .collect(),
        stream_version: p.version,
        log_position: position,
    }
}

impl<L: Storage> Api<L> {
    async fn objection(
        &self,
        rpc: &'static str,
        metadata: &tonic::metadata::MetadataMap,
        mut req: RecordObjectionRequest,
        withdraw: bool,
    ) -> ServiceResult<WriteResult> {
        let request_id = std::mem::take(&mut req.request_id);
        // A retry may re-read the stream version; it is not part of what the
        // request asks for, so it stays out of the fingerprint.
        let expected_version = req.expected_stream_version.take();
        validate::canonical_nhs_number("nhs_number", &mut req.nhs_number)?;
        let scope = objection_scope("scope", req.scope)?;
        let attorney_id = validate::submitter("submitter", req.submitter.as_ref())?;
        let kind = if withdraw {
            Kind::ObjectionWithdrawn(ObjectionWithdrawn {
                nhs_number: req.nhs_number.clone(),
                scope: scope.into(),
                attorney_id: attorney_id.clone(),
            })
        } else {
            Kind::ObjectionRecorded(ObjectionRecorded {
                nhs_number: req.nhs_number.clone(),
                scope: scope.into(),
                attorney_id: attorney_id.clone(),
            })
        };
        let parts = WriteParts {
            rpc,
            metadata,
            user_id: &req.user_id,
            on_behalf_of: on_behalf(&attorney_id, &req.nhs_number),
            expected_version,
        };
        self.write(parts, request_id, &req, payload(kind)).await
    }

    async fn register_attorney(
        &self,
        metadata: &tonic::metadata::MetadataMap,
        mut req: RegisterPowerOfAttorneyRequest,
    ) -> ServiceResult<WriteResult> {
        let request_id = std::mem::take(&mut req.request_id);
        // A retry may re-read the stream version; it is not part of what the
        // request asks for, so it stays out of the fingerprint.
        let expected_version = req.expected_stream_version.take();
        validate::canonical_nhs_number("nhs_number", &mut req.nhs_number)?;
        validate::id("attorney_id", &req.attorney_id)?;
        let kind = power_of_attorney_kind("kind", req.kind)?;
        validate::id("verified_by", &req.verified_by)?;
        let from = iso_date("valid_from", &req.valid_from)?;
        if !req.valid_until.is_empty() && iso_date("valid_until", &req.valid_until)? < from {
            return Err(FieldError::new("valid_until", "must not be before valid_from").into());
        }
        let event = PowerOfAttorneyRegistered {
            nhs_number: req.nhs_number.clone(),
            attorney_id: req.attorney_id.clone(),
            kind: kind.into(),
            verified_by: req.verified_by.clone(),
            valid_from: req.valid_from.clone(),
            valid_until: req.valid_until.clone(),
        };
        let parts = WriteParts {
            rpc: "RegisterPowerOfAttorney",
            metadata,
            user_id: &req.user_id,
            on_behalf_of: "",
            expected_version,
        };
        self.write(
            parts,
            request_id,
            &req,
            payload(Kind::PowerOfAttorneyRegistered(event)),
        )
        .await
    }

    async fn revoke_attorney(
        &self,
        metadata: &tonic::metadata::MetadataMap,
        mut req: RevokePowerOfAttorneyRequest,
    ) -> ServiceResult<WriteResult> {
        let request_id = std::mem::take(&mut req.request_id);
        // A retry may re-read the stream version; it is not part of what the
        // request asks for, so it stays out of the fingerprint.
        let expected_version = req.expected_stream_version.take();
        validate::canonical_nhs_number("nhs_number", &mut req.nhs_number)?;
        validate::id("attorney_id", &req.attorney_id)?;
        let event = PowerOfAttorneyRevoked {
            nhs_number: req.nhs_number.clone(),
            attorney_id: req.attorney_id.clone(),
        };
        let parts = WriteParts {
            rpc: "RevokePowerOfAttorney",
            metadata,
            user_id: &req.user_id,
            on_behalf_of: "",
            expected_version,
        };
        self.write(
            parts,
            request_id,
            &req,
            payload(Kind::PowerOfAttorneyRevoked(event)),
        )
        .await
    }

    async fn grant_permission(
        &self,
        metadata: &tonic::metadata::MetadataMap,
        mut req: GrantPermissionToViewRequest,
    ) -> ServiceResult<WriteResult> {
        let request_id = std::mem::take(&mut req.request_id);
        // A retry may re-read the stream version; it is not part of what the
        // request asks for, so it stays out of the fingerprint.
        let expected_version = req.expected_stream_version.take();
        validate::canonical_nhs_number("nhs_number", &mut req.nhs_number)?;
        validate::ods("organisation_ods", &mut req.organisation_ods)?;
        let until = validate::present("until", req.until.as_ref())?;
        timestamp_from_proto(until)
            .ok_or_else(|| FieldError::new("until", "is not a valid timestamp"))?;
        let attorney_id = validate::submitter("submitter", req.submitter.as_ref())?;
        let event = PermissionToViewGranted {
            nhs_number: req.nhs_number.clone(),
            organisation_ods: req.organisation_ods.clone(),
            until: Some(*until),
            attorney_id: attorney_id.clone(),
        };
        let parts = WriteParts {
            rpc: "GrantPermissionToView",
            metadata,
            user_id: &req.user_id,
            on_behalf_of: on_behalf(&attorney_id, &req.nhs_number),
            expected_version,
        };
        self.write(
            parts,
            request_id,
            &req,
            payload(Kind::PermissionToViewGranted(event)),
        )
        .await
    }

    async fn revoke_permission(
        &self,
        metadata: &tonic::metadata::MetadataMap,
        mut req: RevokePermissionToViewRequest,
    ) -> ServiceResult<WriteResult> {
        let request_id = std::mem::take(&mut req.request_id);
        // A retry may re-read the stream version; it is not part of what the
        // request asks for, so it stays out of the fingerprint.
        let expected_version = req.expected_stream_version.take();
        validate::canonical_nhs_number("nhs_number", &mut req.nhs_number)?;
        validate::ods("organisation_ods", &mut req.organisation_ods)?;
        let attorney_id = validate::submitter("submitter", req.submitter.as_ref())?;
        let event = PermissionToViewRevoked {
            nhs_number: req.nhs_number.clone(),
            organisation_ods: req.organisation_ods.clone(),
            attorney_id: attorney_id.clone(),
        };
        let parts = WriteParts {
            rpc: "RevokePermissionToView",
            metadata,
            user_id: &req.user_id,
            on_behalf_of: on_behalf(&attorney_id, &req.nhs_number),
            expected_version,
        };
        self.write(
            parts,
            request_id,
            &req,
            payload(Kind::PermissionToViewRevoked(event)),
        )
        .await
    }

    async fn consent_status(
        &self,
        mut req: GetConsentStatusRequest,
    ) -> ServiceResult<GetConsentStatusResponse> {
        let nhs = validate::canonical_nhs_number("nhs_number", &mut req.nhs_number)?;
        self.caught_up(req.min_log_position).await?;
        Ok(self
            .view
            .read(|p, _| status_of(&req.nhs_number, p.patient(&nhs), p.position())))
    }
}

/// Withdrawal requests carry the same fields as objections.
fn as_objection(req: WithdrawObjectionRequest) -> RecordObjectionRequest {
    RecordObjectionRequest {
        request_id: req.request_id,
        nhs_number: req.nhs_number,
        scope: req.scope,
        submitter: req.submitter,
        user_id: req.user_id,
        expected_stream_version: req.expected_stream_version,
    }
}

#[tonic::async_trait]
impl<L: Storage> ConsentService for Handle<L> {
    async fn record_objection(
        &self,
        request: Request<RecordObjectionRequest>,
    ) -> Result<Response<RecordObjectionResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        let result = self
            .0
            .objection("RecordObjection", &metadata, req, false)
            .await?;
        Ok(Response::new(RecordObjectionResponse {
            result: Some(result),
        }))
    }

    async fn withdraw_objection(
        &self,
        request: Request<WithdrawObjectionRequest>,
    ) -> Result<Response<WithdrawObjectionResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        let result = self
            .0
            .objection("WithdrawObjection", &metadata, as_objection(req), true)
            .await?;
        Ok(Response::new(WithdrawObjectionResponse {
            result: Some(result),
        }))
    }

    async fn get_consent_status(
        &self,
        request: Request<GetConsentStatusRequest>,
    ) -> Result<Response<GetConsentStatusResponse>, Status> {
        Ok(Response::new(
            self.0.consent_status(request.into_inner()).await?,
        ))
    }

    async fn register_power_of_attorney(
        &self,
        request: Request<RegisterPowerOfAttorneyRequest>,
    ) -> Result<Response<RegisterPowerOfAttorneyResponse>, Status> {
        write_rpc!(
            self,
            request,
            register_attorney,
            RegisterPowerOfAttorneyResponse
        )
    }

    async fn revoke_power_of_attorney(
        &self,
        request: Request<RevokePowerOfAttorneyRequest>,
    ) -> Result<Response<RevokePowerOfAttorneyResponse>, Status> {
        write_rpc!(
            self,
            request,
            revoke_attorney,
            RevokePowerOfAttorneyResponse
        )
    }

    async fn grant_permission_to_view(
        &self,
        request: Request<GrantPermissionToViewRequest>,
    ) -> Result<Response<GrantPermissionToViewResponse>, Status> {
        write_rpc!(
            self,
            request,
            grant_permission,
            GrantPermissionToViewResponse
        )
    }

    async fn revoke_permission_to_view(
        &self,
        request: Request<RevokePermissionToViewRequest>,
    ) -> Result<Response<RevokePermissionToViewResponse>, Status> {
        write_rpc!(
            self,
            request,
            revoke_permission,
            RevokePermissionToViewResponse
        )
    }
}

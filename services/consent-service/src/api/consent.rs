//! ConsentService: objections, attorneys and permissions to view, each
//! write request turned into the event it proposes beside its tonic method.

use icr_events::codes::{iso_date, objection_scope, power_of_attorney_kind};
use icr_events::{FieldError, Patient, timestamp_from_proto, timestamp_to_proto};
use icr_proto::pb::consent_service_server::ConsentService;
use icr_proto::pb::event_payload::Kind;
use icr_proto::pb::*;
use tonic::{Request, Response, Status};

use super::Api;
use super::servers::Handle;
use super::write::{Proposal, WriteRequest, envelopes, payload, submitted};
use crate::Storage;
use crate::status::ServiceResult;
use crate::validate;

envelopes! {
    RecordObjectionRequest: "RecordObjection" => RecordObjectionResponse;
    WithdrawObjectionRequest: "WithdrawObjection" => WithdrawObjectionResponse;
    RegisterPowerOfAttorneyRequest: "RegisterPowerOfAttorney" => RegisterPowerOfAttorneyResponse;
    RevokePowerOfAttorneyRequest: "RevokePowerOfAttorney" => RevokePowerOfAttorneyResponse;
    GrantPermissionToViewRequest: "GrantPermissionToView" => GrantPermissionToViewResponse;
    RevokePermissionToViewRequest: "RevokePermissionToView" => RevokePermissionToViewResponse;
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

#[tonic::async_trait]
impl<L: Storage> ConsentService for Handle<L> {
    async fn record_objection(
        &self,
        request: Request<RecordObjectionRequest>,
    ) -> Result<Response<RecordObjectionResponse>, Status> {
        self.write(request).await
    }

    async fn withdraw_objection(
        &self,
        request: Request<WithdrawObjectionRequest>,
    ) -> Result<Response<WithdrawObjectionResponse>, Status> {
        self.write(request).await
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
        self.write(request).await
    }

    async fn revoke_power_of_attorney(
        &self,
        request: Request<RevokePowerOfAttorneyRequest>,
    ) -> Result<Response<RevokePowerOfAttorneyResponse>, Status> {
        self.write(request).await
    }

    async fn grant_permission_to_view(
        &self,
        request: Request<GrantPermissionToViewRequest>,
    ) -> Result<Response<GrantPermissionToViewResponse>, Status> {
        self.write(request).await
    }

    async fn revoke_permission_to_view(
        &self,
        request: Request<RevokePermissionToViewRequest>,
    ) -> Result<Response<RevokePermissionToViewResponse>, Status> {
        self.write(request).await
    }
}

impl WriteRequest for RecordObjectionRequest {
    async fn propose<'a, L: Storage>(&mut self, _: &'a Api<L>) -> ServiceResult<Proposal<'a>> {
        validate::canonical_nhs_number("nhs_number", &mut self.nhs_number)?;
        let scope = objection_scope("scope", self.scope)?;
        let attorney_id = validate::submitter("submitter", self.submitter.as_ref())?;
        let kind = Kind::ObjectionRecorded(ObjectionRecorded {
            nhs_number: self.nhs_number.clone(),
            scope: scope.into(),
            attorney_id: attorney_id.clone(),
        });
        Ok(submitted(kind, &attorney_id, &self.nhs_number))
    }
}

impl WriteRequest for WithdrawObjectionRequest {
    async fn propose<'a, L: Storage>(&mut self, _: &'a Api<L>) -> ServiceResult<Proposal<'a>> {
        validate::canonical_nhs_number("nhs_number", &mut self.nhs_number)?;
        let scope = objection_scope("scope", self.scope)?;
        let attorney_id = validate::submitter("submitter", self.submitter.as_ref())?;
        let kind = Kind::ObjectionWithdrawn(ObjectionWithdrawn {
            nhs_number: self.nhs_number.clone(),
            scope: scope.into(),
            attorney_id: attorney_id.clone(),
        });
        Ok(submitted(kind, &attorney_id, &self.nhs_number))
    }
}

impl WriteRequest for RegisterPowerOfAttorneyRequest {
    async fn propose<'a, L: Storage>(&mut self, _: &'a Api<L>) -> ServiceResult<Proposal<'a>> {
        validate::canonical_nhs_number("nhs_number", &mut self.nhs_number)?;
        validate::id("attorney_id", &self.attorney_id)?;
        let kind = power_of_attorney_kind("kind", self.kind)?;
        validate::id("verified_by", &self.verified_by)?;
        let from = iso_date("valid_from", &self.valid_from)?;
        if !self.valid_until.is_empty() && iso_date("valid_until", &self.valid_until)? < from {
            return Err(FieldError::new("valid_until", "must not be before valid_from").into());
        }
        Ok(Proposal::of(payload(Kind::PowerOfAttorneyRegistered(
            PowerOfAttorneyRegistered {
                nhs_number: self.nhs_number.clone(),
                attorney_id: self.attorney_id.clone(),
                kind: kind.into(),
                verified_by: self.verified_by.clone(),
                valid_from: self.valid_from.clone(),
                valid_until: self.valid_until.clone(),
            },
        ))))
    }
}

impl WriteRequest for RevokePowerOfAttorneyRequest {
    async fn propose<'a, L: Storage>(&mut self, _: &'a Api<L>) -> ServiceResult<Proposal<'a>> {
        validate::canonical_nhs_number("nhs_number", &mut self.nhs_number)?;
        validate::id("attorney_id", &self.attorney_id)?;
        Ok(Proposal::of(payload(Kind::PowerOfAttorneyRevoked(
            PowerOfAttorneyRevoked {
                nhs_number: self.nhs_number.clone(),
                attorney_id: self.attorney_id.clone(),
            },
        ))))
    }
}

impl WriteRequest for GrantPermissionToViewRequest {
    async fn propose<'a, L: Storage>(&mut self, _: &'a Api<L>) -> ServiceResult<Proposal<'a>> {
        validate::canonical_nhs_number("nhs_number", &mut self.nhs_number)?;
        validate::ods("organisation_ods", &mut self.organisation_ods)?;
        let until = validate::present("until", self.until.as_ref())?;
        timestamp_from_proto(until)
            .ok_or_else(|| FieldError::new("until", "is not a valid timestamp"))?;
        let attorney_id = validate::submitter("submitter", self.submitter.as_ref())?;
        let kind = Kind::PermissionToViewGranted(PermissionToViewGranted {
            nhs_number: self.nhs_number.clone(),
            organisation_ods: self.organisation_ods.clone(),
            until: Some(*until),
            attorney_id: attorney_id.clone(),
        });
        Ok(submitted(kind, &attorney_id, &self.nhs_number))
    }
}

impl WriteRequest for RevokePermissionToViewRequest {
    async fn propose<'a, L: Storage>(&mut self, _: &'a Api<L>) -> ServiceResult<Proposal<'a>> {
        validate::canonical_nhs_number("nhs_number", &mut self.nhs_number)?;
        validate::ods("organisation_ods", &mut self.organisation_ods)?;
        let attorney_id = validate::submitter("submitter", self.submitter.as_ref())?;
        let kind = Kind::PermissionToViewRevoked(PermissionToViewRevoked {
            nhs_number: self.nhs_number.clone(),
            organisation_ods: self.organisation_ods.clone(),
            attorney_id: attorney_id.clone(),
        });
        Ok(submitted(kind, &attorney_id, &self.nhs_number))
    }
}

//! ConsentService: objections, attorneys and permissions to view.

use crate::Storage;
use icr_events::{Patient, timestamp_to_proto};
use icr_proto::pb::consent_service_server::ConsentService;
use icr_proto::pb::*;
use tonic::{Request, Response, Status};

use super::Api;
use super::servers::Handle;
use crate::status::ServiceResult;
use crate::validate;

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

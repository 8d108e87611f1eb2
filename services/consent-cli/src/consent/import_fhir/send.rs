//! Sending one planned change: the RPC a `Consent` maps to, with the
//! request id derived from the resource.

use anyhow::Result;
use icr_fhir::consent_import::{ConsentChange, ConsentSubmitter, ImportPlan};
use icr_proto::pb::consent_service_client::ConsentServiceClient;
use icr_proto::pb::{
    GrantPermissionToViewRequest, RecordObjectionRequest, RevokePermissionToViewRequest,
    WithdrawObjectionRequest, WriteResult,
};
use tonic::transport::Channel;
use tonic::{Code, Status};

use super::super::submitter;
use crate::caller::Caller;
use crate::failure::CallContext;
use crate::write;

/// What the service made of one planned change.
#[derive(Debug)]
pub(super) enum Sent {
    /// Appended, or a replay of the same request id (`replayed`).
    Written(WriteResult),
    /// The service already holds this state (an objection already active,
    /// say) and appended nothing.
    AlreadyInEffect(String),
}

/// Sends `plan` to the service.
pub(super) async fn send(channel: Channel, caller: &Caller, plan: &ImportPlan) -> Result<Sent> {
    let mut client = ConsentServiceClient::new(channel);
    let request_id = plan.request_id.clone();
    let nhs_number = plan.nhs_number.clone();
    let who = Some(submitter(match &plan.submitter {
        ConsentSubmitter::Patient => None,
        ConsentSubmitter::Attorney { attorney_id } => Some(attorney_id.as_str()),
    }));
    let user_id = caller.user_id();
    let result = match &plan.change {
        ConsentChange::RecordObjection { scope } => {
            let request = RecordObjectionRequest {
                request_id,
                nhs_number,
                scope: (*scope).into(),
                submitter: who,
                user_id,
                expected_stream_version: None,
            };
            let response = client.record_objection(caller.request(request)).await;
            response.map(|r| r.into_inner().result)
        }
        ConsentChange::WithdrawObjection { scope } => {
            let request = WithdrawObjectionRequest {
                request_id,
                nhs_number,
                scope: (*scope).into(),
                submitter: who,
                user_id,
                expected_stream_version: None,
            };
            let response = client.withdraw_objection(caller.request(request)).await;
            response.map(|r| r.into_inner().result)
        }
        ConsentChange::GrantPermissionToView {
            organisation_ods,
            until,
        } => {
            let request = GrantPermissionToViewRequest {
                request_id,
                nhs_number,
                organisation_ods: organisation_ods.clone(),
                until: Some(prost_types::Timestamp {
                    seconds: until.as_second(),
                    nanos: until.subsec_nanosecond(),
                }),
                submitter: who,
                user_id,
                expected_stream_version: None,
            };
            let response = client
                .grant_permission_to_view(caller.request(request))
                .await;
            response.map(|r| r.into_inner().result)
        }
        ConsentChange::RevokePermissionToView { organisation_ods } => {
            let request = RevokePermissionToViewRequest {
                request_id,
                nhs_number,
                organisation_ods: organisation_ods.clone(),
                submitter: who,
                user_id,
                expected_stream_version: None,
            };
            let response = client
                .revoke_permission_to_view(caller.request(request))
                .await;
            response.map(|r| r.into_inner().result)
        }
    };
    outcome(plan, result)
}

/// The outcome of a call: a write, a state already in effect, or the
/// failure explained.
fn outcome(plan: &ImportPlan, result: Result<Option<WriteResult>, Status>) -> Result<Sent> {
    match result {
        Ok(result) => Ok(Sent::Written(write::written(result)?)),
        Err(status) if status.code() == Code::AlreadyExists => {
            Ok(Sent::AlreadyInEffect(status.message().to_owned()))
        }
        Err(status) => {
            let call = CallContext::patient_write(&plan.request_id, &plan.nhs_number);
            Err(call.rejected(status))
        }
    }
}

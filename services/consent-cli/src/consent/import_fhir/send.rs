//! Sending one planned change: the RPC a `Consent` maps to, with the
//! request id derived from the resource, and what the answer means.
//!
//! Two answers are checked against the patient's consent status
//! (GetConsentStatus) before they are believed:
//!
//! - A replay says only that the same request was appended once; a later
//!   change may have undone it since. The import counts it only if the
//!   state it stands for still holds, and else reports it superseded.
//! - `FailedPrecondition` to a withdrawal or revocation may mean there is
//!   nothing to end, or something else (an attorney whose power does not
//!   cover it, checked first). The service gives no structured reason,
//!   and its messages are for people, so the state is read instead: only
//!   when it shows both that nothing is in effect and that the submitter
//!   may decide (the patient, or an attorney with a power in date) is the
//!   refusal `not_in_effect`, its message kept in the reason. Anything
//!   else, an unregistered attorney's withdrawal of nothing included, is
//!   the service's refusal, as sent: an error.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Result, anyhow};
use icr_fhir::consent_import::{ConsentChange, ConsentSubmitter, ImportPlan};
use icr_proto::pb::{GetConsentStatusResponse, WriteResult};
use tonic::transport::Channel;
use tonic::{Code, Status};

use super::super::permission::{PermissionChange, send_permission};
use super::super::status::{StatusArgs, consent_status};
use super::super::{ObjectionChange, send_objection, submitter};
use super::state;
use crate::caller::Caller;
use crate::failure::CallContext;
use crate::write::{self, PatientWrite};

/// What the service made of one planned change.
#[derive(Debug)]
pub(super) enum Sent {
    /// Appended, or a replay of the same request id (`replayed`) whose
    /// state is still current.
    Written(WriteResult),
    /// The service already holds this state (an objection already active,
    /// say) and appended nothing.
    AlreadyInEffect(String),
    /// An ending (withdrawal or revocation) of something not in effect:
    /// nothing to do, nothing appended.
    NotInEffect(String),
    /// A replay of a change made before and since undone: what the
    /// resource says is not in effect, and this import cannot make it so.
    Superseded {
        /// The original write the replay answered with.
        result: WriteResult,
        /// What holds instead, and what to do.
        reason: String,
    },
}

impl Sent {
    /// The outcome's name, as the CLI prints it.
    pub(super) fn name(&self) -> &'static str {
        match self {
            Self::Written(_) => "written",
            Self::AlreadyInEffect(_) => "already_in_effect",
            Self::NotInEffect(_) => "not_in_effect",
            Self::Superseded { .. } => "superseded",
        }
    }
}

/// Sends `plan` to the service and checks what the answer means.
pub(super) async fn send(channel: Channel, caller: &Caller, plan: &ImportPlan) -> Result<Sent> {
    let answer = call(channel.clone(), caller, plan).await;
    let refused = match answer {
        Ok(result) => {
            let result = write::written(result)?;
            if !result.replayed {
                return Ok(Sent::Written(result));
            }
            let current = status(channel, caller, plan, result.log_position).await?;
            if state::holds(&plan.change, &current, now()) {
                return Ok(Sent::Written(result));
            }
            let reason = format!(
                "imported before (log position {}), and a later change has undone it: {}. The \
                 same resource is the same request, which the service answers as a replay \
                 without changing anything; if this Consent is in force again, export it with \
                 a new meta.versionId or meta.lastUpdated and import that",
                result.log_position,
                state::describe(&plan.change, &current)
            );
            return Ok(Sent::Superseded { result, reason });
        }
        Err(status) if status.code() == Code::AlreadyExists => {
            return Ok(Sent::AlreadyInEffect(status.message().to_owned()));
        }
        Err(refused) => refused,
    };
    let ends = matches!(
        plan.change,
        ConsentChange::WithdrawObjection { .. } | ConsentChange::RevokePermissionToView { .. }
    );
    if ends && refused.code() == Code::FailedPrecondition {
        let current = status(channel, caller, plan, 0).await?;
        let now = now();
        if state::holds(&plan.change, &current, now)
            && state::may_decide(&plan.submitter, &current, now)
        {
            let what = state::describe(&plan.change, &current);
            return Ok(Sent::NotInEffect(format!(
                "{what}: nothing to end (the service answered: {})",
                refused.message()
            )));
        }
    }
    if refused.code() == Code::InvalidArgument && refused.message().starts_with("request_id") {
        // The id comes from the resource, so only what is not in it can
        // differ: the user the request is made for. The usual hint (a new
        // request id) is not one the import can take.
        return Err(anyhow!(
            "{:?}: {}\nhint: the request id comes from the resource, so it was imported before \
             as a different request, most likely by another user (--user, ICR_USER), which is \
             part of each request; import the file again as that user to replay it",
            refused.code(),
            refused.message()
        ));
    }
    let call = CallContext::patient_write(&plan.request_id, &plan.nhs_number);
    Err(call.rejected(refused))
}

/// The patient's consent status, once the service has applied the log up
/// to `min_log_position`.
async fn status(
    channel: Channel,
    caller: &Caller,
    plan: &ImportPlan,
    min_log_position: u64,
) -> Result<GetConsentStatusResponse> {
    let args = StatusArgs {
        nhs_number: plan.nhs_number.clone(),
        min_log_position,
    };
    consent_status(channel, caller, &args).await
}

/// The current time in seconds since the Unix epoch.
fn now() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX)
}

/// Makes the RPC `plan` maps to.
async fn call(
    channel: Channel,
    caller: &Caller,
    plan: &ImportPlan,
) -> Result<Option<WriteResult>, Status> {
    let header = PatientWrite {
        request_id: plan.request_id.clone(),
        nhs_number: plan.nhs_number.clone(),
        user_id: caller.user_id(),
        expected_stream_version: None,
    };
    let who = submitter(match &plan.submitter {
        ConsentSubmitter::Patient => None,
        ConsentSubmitter::Attorney { attorney_id } => Some(attorney_id.as_str()),
    });
    match &plan.change {
        ConsentChange::RecordObjection { scope } => {
            send_objection(
                channel,
                caller,
                ObjectionChange::Record,
                header,
                *scope,
                who,
            )
            .await
        }
        ConsentChange::WithdrawObjection { scope } => {
            send_objection(
                channel,
                caller,
                ObjectionChange::Withdraw,
                header,
                *scope,
                who,
            )
            .await
        }
        ConsentChange::GrantPermissionToView {
            organisation_ods,
            until,
        } => {
            let until = prost_types::Timestamp {
                seconds: until.as_second(),
                nanos: until.subsec_nanosecond(),
            };
            let change = PermissionChange::Grant { until };
            send_permission(channel, caller, change, header, organisation_ods, who).await
        }
        ConsentChange::RevokePermissionToView { organisation_ods } => {
            let change = PermissionChange::Revoke;
            send_permission(channel, caller, change, header, organisation_ods, who).await
        }
    }
}

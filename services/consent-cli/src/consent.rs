//! `consent`: a patient's objections, attorneys and permissions to view, as
//! a patient-facing service submits them, and the state they add up to.

mod attorney;
pub(crate) mod import_fhir;
mod permission;
mod status;

use anyhow::Result;
use clap::{Args, Subcommand};
use icr_proto::pb::consent_service_client::ConsentServiceClient;
use icr_proto::pb::submitter::Who;
use icr_proto::pb::{
    ObjectionScope, RecordObjectionRequest, Submitter, WithdrawObjectionRequest, WriteResult,
};
use tonic::transport::Channel;

use crate::caller::Caller;
use crate::failure::CallContext;
use crate::names;
use crate::output::Output;
use crate::write::{self, PatientWriteOptions};

pub(crate) use attorney::AttorneyCommand;
pub(crate) use permission::PermissionCommand;
pub(crate) use status::StatusArgs;

/// Subcommands of `consent`.
#[derive(Subcommand, Debug, Clone)]
pub(crate) enum ConsentCommand {
    /// Record the patient's objection to sharing their record.
    Object(ObjectionArgs),
    /// Withdraw the patient's active objection.
    Withdraw(ObjectionArgs),
    /// Show the patient's current consent state and stream version.
    Status(StatusArgs),
    /// Register or revoke a power of attorney.
    #[command(subcommand)]
    Attorney(AttorneyCommand),
    /// Grant or revoke an organisation's permission to view.
    #[command(subcommand)]
    Permission(PermissionCommand),
    /// Import FHIR R4 Consent resources (one, a Bundle, or NDJSON) as
    /// objections and permissions to view; nothing is sent if any one
    /// cannot be represented faithfully.
    ///
    /// Importing the same file again is safe: each change's request id
    /// comes from its resource, and the service answers a request it has
    /// seen as a replay, appending nothing. The request includes the user
    /// (--user, ICR_USER), so a re-import replays only as the same user. As
    /// another, the service refuses the first change already recorded
    /// (InvalidArgument on request_id) and the import stops there, that
    /// change and the rest unsent; import it again as the first user.
    ImportFhir(import_fhir::ImportFhirArgs),
}

/// Arguments of `consent object` and `consent withdraw`.
#[derive(Args, Debug, Clone)]
pub(crate) struct ObjectionArgs {
    /// NHS number of the patient.
    #[arg(long = "nhs", value_name = "NHS_NUMBER", value_parser = crate::codes::nhs_number)]
    pub(crate) nhs_number: String,
    /// What the objection covers.
    #[arg(
        long,
        value_name = "SCOPE",
        default_value = "direct_care",
        value_parser = names::parser::<ObjectionScope>(),
    )]
    pub(crate) scope: ObjectionScope,
    /// Id of the registered attorney acting for the patient; without it the
    /// patient acts themself.
    #[arg(long, value_name = "ID")]
    pub(crate) attorney: Option<String>,
    #[command(flatten)]
    pub(crate) write: PatientWriteOptions,
}

/// Runs one `consent` subcommand and prints its result.
pub(crate) async fn run(
    channel: Channel,
    caller: &Caller,
    command: &ConsentCommand,
    output: Output,
) -> Result<()> {
    match command {
        ConsentCommand::Object(args) => {
            let result = record_objection(channel, caller, args).await?;
            write::print_receipt(output, &result, args.write.request_id())
        }
        ConsentCommand::Withdraw(args) => {
            let result = withdraw_objection(channel, caller, args).await?;
            write::print_receipt(output, &result, args.write.request_id())
        }
        ConsentCommand::Status(args) => status::run(channel, caller, args, output).await,
        ConsentCommand::Attorney(command) => attorney::run(channel, caller, command, output).await,
        ConsentCommand::Permission(command) => {
            permission::run(channel, caller, command, output).await
        }
        ConsentCommand::ImportFhir(args) => import_fhir::run(channel, caller, args, output).await,
    }
}

/// Records an objection; returns the write's result as the service sent it.
pub(crate) async fn record_objection(
    channel: Channel,
    caller: &Caller,
    args: &ObjectionArgs,
) -> Result<WriteResult> {
    let request = RecordObjectionRequest {
        request_id: args.write.request_id().to_owned(),
        nhs_number: args.nhs_number.clone(),
        scope: args.scope.into(),
        submitter: Some(submitter(args.attorney.as_deref())),
        user_id: caller.user_id(),
        expected_stream_version: args.write.expected_version,
    };
    let call = CallContext::patient_write(args.write.request_id(), &args.nhs_number);
    let response = ConsentServiceClient::new(channel)
        .record_objection(caller.request(request))
        .await
        .map_err(|status| call.rejected(status))?;
    write::written(response.into_inner().result)
}

/// Withdraws an objection; returns the write's result as the service sent it.
pub(crate) async fn withdraw_objection(
    channel: Channel,
    caller: &Caller,
    args: &ObjectionArgs,
) -> Result<WriteResult> {
    let request = WithdrawObjectionRequest {
        request_id: args.write.request_id().to_owned(),
        nhs_number: args.nhs_number.clone(),
        scope: args.scope.into(),
        submitter: Some(submitter(args.attorney.as_deref())),
        user_id: caller.user_id(),
        expected_stream_version: args.write.expected_version,
    };
    let call = CallContext::patient_write(args.write.request_id(), &args.nhs_number);
    let response = ConsentServiceClient::new(channel)
        .withdraw_objection(caller.request(request))
        .await
        .map_err(|status| call.rejected(status))?;
    write::written(response.into_inner().result)
}

/// Who submits a consent change: the named attorney, or else the patient.
pub(crate) fn submitter(attorney: Option<&str>) -> Submitter {
    let who = match attorney {
        Some(attorney_id) => Who::AttorneyId(attorney_id.to_owned()),
        // The API ignores the value; `true` reads as "yes, the patient".
        None => Who::Patient(true),
    };
    Submitter { who: Some(who) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_an_attorney_the_patient_submits() {
        assert_eq!(submitter(None).who, Some(Who::Patient(true)));
        assert_eq!(
            submitter(Some("ATT-1")).who,
            Some(Who::AttorneyId("ATT-1".to_owned()))
        );
    }
}

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
use tonic::Status;
use tonic::transport::Channel;

use crate::caller::Caller;
use crate::names;
use crate::output::Output;
use crate::write::{self, PatientWrite, PatientWriteOptions, patient_request};

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
            let result = change_objection(channel, caller, args, ObjectionChange::Record).await?;
            write::print_receipt(output, &result, args.write.request_id())
        }
        ConsentCommand::Withdraw(args) => {
            let result = change_objection(channel, caller, args, ObjectionChange::Withdraw).await?;
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

/// Which way an objection changes. Recording and withdrawing take the same
/// fields, so one function sends both.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ObjectionChange {
    /// Record the objection (RecordObjection).
    Record,
    /// Withdraw it (WithdrawObjection).
    Withdraw,
}

/// Records or withdraws an objection as `args` say; returns the write's
/// result as the service sent it.
async fn change_objection(
    channel: Channel,
    caller: &Caller,
    args: &ObjectionArgs,
    change: ObjectionChange,
) -> Result<WriteResult> {
    let header = args.write.header(&args.nhs_number, caller);
    let submitter = submitter(args.attorney.as_deref());
    let answer = send_objection(channel, caller, change, header, args.scope, submitter).await;
    write::written(args.write.answered(&args.nhs_number, answer)?)
}

/// Sends an objection change: the result the service answered with, or its
/// refusal as sent. `consent object`, `consent withdraw` and the FHIR import
/// all send through here.
async fn send_objection(
    channel: Channel,
    caller: &Caller,
    change: ObjectionChange,
    header: PatientWrite,
    scope: ObjectionScope,
    submitter: Submitter,
) -> Result<Option<WriteResult>, Status> {
    // The two requests differ only in their type.
    macro_rules! request {
        ($request:ident) => {
            caller.request(patient_request!(
                header,
                $request {
                    scope: scope.into(),
                    submitter: Some(submitter),
                }
            ))
        };
    }
    let mut client = ConsentServiceClient::new(channel);
    let result = match change {
        ObjectionChange::Record => {
            let request = request!(RecordObjectionRequest);
            client.record_objection(request).await?.into_inner().result
        }
        ObjectionChange::Withdraw => {
            let request = request!(WithdrawObjectionRequest);
            client
                .withdraw_objection(request)
                .await?
                .into_inner()
                .result
        }
    };
    Ok(result)
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

//! `consent attorney`: register and revoke powers of attorney, once the
//! instrument (an LPA or a court order) has been seen and verified.

use anyhow::Result;
use clap::{Args, Subcommand};
use icr_proto::pb::consent_service_client::ConsentServiceClient;
use icr_proto::pb::{
    PowerOfAttorneyKind, RegisterPowerOfAttorneyRequest, RevokePowerOfAttorneyRequest, WriteResult,
};
use tonic::transport::Channel;

use crate::caller::Caller;
use crate::dates;
use crate::failure::CallContext;
use crate::names;
use crate::output::Output;
use crate::write::{self, PatientWriteOptions};

/// Subcommands of `consent attorney`.
#[derive(Subcommand, Debug, Clone)]
pub(crate) enum AttorneyCommand {
    /// Register a verified power of attorney for the patient.
    Register(RegisterArgs),
    /// Revoke a power of attorney.
    Revoke(RevokeArgs),
}

/// Arguments of `consent attorney register`.
#[derive(Args, Debug, Clone)]
pub(crate) struct RegisterArgs {
    /// NHS number of the patient the attorney acts for.
    #[arg(long = "nhs", value_name = "NHS_NUMBER", value_parser = crate::codes::nhs_number)]
    pub(crate) nhs_number: String,
    /// Id the attorney will act under in later requests.
    #[arg(long = "attorney", value_name = "ID")]
    pub(crate) attorney_id: String,
    /// The legal power the attorney holds.
    #[arg(long, value_name = "KIND", value_parser = names::parser::<PowerOfAttorneyKind>())]
    pub(crate) kind: PowerOfAttorneyKind,
    /// Who checked the instrument, e.g. the staff member who saw the LPA.
    #[arg(long, value_name = "ID")]
    pub(crate) verified_by: String,
    /// First day the power is valid (YYYY-MM-DD).
    #[arg(long, value_name = "DATE", value_parser = dates::parse_date)]
    pub(crate) valid_from: String,
    /// Last day the power is valid (YYYY-MM-DD); without it, open-ended.
    #[arg(long, value_name = "DATE", value_parser = dates::parse_date)]
    pub(crate) valid_until: Option<String>,
    #[command(flatten)]
    pub(crate) write: PatientWriteOptions,
}

/// Arguments of `consent attorney revoke`.
#[derive(Args, Debug, Clone)]
pub(crate) struct RevokeArgs {
    /// NHS number of the patient the attorney acted for.
    #[arg(long = "nhs", value_name = "NHS_NUMBER", value_parser = crate::codes::nhs_number)]
    pub(crate) nhs_number: String,
    /// Id the power of attorney was registered with.
    #[arg(long = "attorney", value_name = "ID")]
    pub(crate) attorney_id: String,
    #[command(flatten)]
    pub(crate) write: PatientWriteOptions,
}

/// Runs one `consent attorney` subcommand and prints its receipt.
pub(crate) async fn run(
    channel: Channel,
    caller: &Caller,
    command: &AttorneyCommand,
    output: Output,
) -> Result<()> {
    let (result, request_id) = match command {
        AttorneyCommand::Register(args) => (
            register(channel, caller, args).await?,
            args.write.request_id(),
        ),
        AttorneyCommand::Revoke(args) => (
            revoke(channel, caller, args).await?,
            args.write.request_id(),
        ),
    };
    write::print_receipt(output, &result, request_id)
}

/// Registers a power of attorney.
pub(crate) async fn register(
    channel: Channel,
    caller: &Caller,
    args: &RegisterArgs,
) -> Result<WriteResult> {
    let request = RegisterPowerOfAttorneyRequest {
        request_id: args.write.request_id().to_owned(),
        nhs_number: args.nhs_number.clone(),
        attorney_id: args.attorney_id.clone(),
        kind: args.kind.into(),
        verified_by: args.verified_by.clone(),
        valid_from: args.valid_from.clone(),
        valid_until: args.valid_until.clone().unwrap_or_default(),
        user_id: caller.user_id(),
        expected_stream_version: args.write.expected_version,
    };
    let call = CallContext::patient_write(args.write.request_id(), &args.nhs_number);
    let response = ConsentServiceClient::new(channel)
        .register_power_of_attorney(caller.request(request))
        .await
        .map_err(|status| call.rejected(status))?;
    write::written(response.into_inner().result)
}

/// Revokes a power of attorney.
pub(crate) async fn revoke(
    channel: Channel,
    caller: &Caller,
    args: &RevokeArgs,
) -> Result<WriteResult> {
    let request = RevokePowerOfAttorneyRequest {
        request_id: args.write.request_id().to_owned(),
        nhs_number: args.nhs_number.clone(),
        attorney_id: args.attorney_id.clone(),
        user_id: caller.user_id(),
        expected_stream_version: args.write.expected_version,
    };
    let call = CallContext::patient_write(args.write.request_id(), &args.nhs_number);
    let response = ConsentServiceClient::new(channel)
        .revoke_power_of_attorney(caller.request(request))
        .await
        .map_err(|status| call.rejected(status))?;
    write::written(response.into_inner().result)
}

//! `consent attorney`: register and revoke powers of attorney, once the
//! instrument (an LPA or a court order) has been seen and verified.

use anyhow::Result;
use clap::{Args, Subcommand};
use icr_proto::pb::consent_service_client::ConsentServiceClient;
use icr_proto::pb::{
    PowerOfAttorneyKind, RegisterPowerOfAttorneyRequest, RevokePowerOfAttorneyRequest,
};
use tonic::transport::Channel;

use crate::caller::Caller;
use crate::dates;
use crate::names;
use crate::output::Output;
use crate::write::{self, PatientWriteOptions, patient_request};

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
    let mut client = ConsentServiceClient::new(channel);
    let (write, nhs_number, answer) = match command {
        AttorneyCommand::Register(args) => {
            let request = patient_request!(
                args.write.header(&args.nhs_number, caller),
                RegisterPowerOfAttorneyRequest {
                    attorney_id: args.attorney_id.clone(),
                    kind: args.kind.into(),
                    verified_by: args.verified_by.clone(),
                    valid_from: args.valid_from.clone(),
                    valid_until: args.valid_until.clone().unwrap_or_default(),
                }
            );
            let answer = client.register_power_of_attorney(caller.request(request));
            let answer = answer.await.map(|response| response.into_inner().result);
            (&args.write, &args.nhs_number, answer)
        }
        AttorneyCommand::Revoke(args) => {
            let request = patient_request!(
                args.write.header(&args.nhs_number, caller),
                RevokePowerOfAttorneyRequest {
                    attorney_id: args.attorney_id.clone(),
                }
            );
            let answer = client.revoke_power_of_attorney(caller.request(request));
            let answer = answer.await.map(|response| response.into_inner().result);
            (&args.write, &args.nhs_number, answer)
        }
    };
    let result = write::written(write.answered(nhs_number, answer)?)?;
    write::print_receipt(output, &result, write.request_id())
}

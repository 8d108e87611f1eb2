//! `care`: the care context GP and hospital systems feed in: which practice
//! a patient is registered with, and which organisations are caring for them.

mod population;

use anyhow::Result;
use clap::{Args, Subcommand};
use icr_proto::pb::care_context_service_client::CareContextServiceClient;
use icr_proto::pb::{
    CareRelationshipKind, EndCareRelationshipRequest, RegisterPatientRequest,
    RegisterPatientResponse, StartCareRelationshipRequest, WriteResult,
};
use tonic::transport::Channel;

use crate::caller::Caller;
use crate::dates;
use crate::failure::CallContext;
use crate::names;
use crate::output::Output;
use crate::write::{self, PatientWriteOptions};

/// Subcommands of `care`.
#[derive(Subcommand, Debug, Clone)]
pub(crate) enum CareCommand {
    /// Record a patient's GP registration and date of birth.
    RegisterPatient(RegisterPatientArgs),
    /// Record that an organisation became involved in a patient's care.
    Start(StartArgs),
    /// Record that an organisation's involvement ended.
    End(EndArgs),
}

/// Arguments of `care register-patient`.
#[derive(Args, Debug, Clone)]
pub(crate) struct RegisterPatientArgs {
    /// NHS number of the patient.
    #[arg(long = "nhs", value_name = "NHS_NUMBER", value_parser = crate::codes::nhs_number)]
    pub(crate) nhs_number: String,
    /// ODS code of the GP practice the patient is registered with.
    #[arg(long = "practice", value_name = "ODS", value_parser = crate::codes::ods_code)]
    pub(crate) gp_practice_ods: String,
    /// Date of birth (YYYY-MM-DD); a region's minimum age is checked against it.
    #[arg(long = "dob", value_name = "DATE", value_parser = dates::parse_date)]
    pub(crate) date_of_birth: String,
    #[command(flatten)]
    pub(crate) write: PatientWriteOptions,
}

/// Arguments of `care start`.
#[derive(Args, Debug, Clone)]
pub(crate) struct StartArgs {
    /// NHS number of the patient.
    #[arg(long = "nhs", value_name = "NHS_NUMBER", value_parser = crate::codes::nhs_number)]
    pub(crate) nhs_number: String,
    /// The feed's own reference for the relationship (episode, case, referral).
    #[arg(long = "relationship", value_name = "ID")]
    pub(crate) relationship_id: String,
    /// ODS code of the organisation now involved.
    #[arg(long = "org", value_name = "ODS", value_parser = crate::codes::ods_code)]
    pub(crate) organisation_ods: String,
    /// How the organisation is involved.
    #[arg(long, value_name = "KIND", value_parser = names::parser::<CareRelationshipKind>())]
    pub(crate) kind: CareRelationshipKind,
    #[command(flatten)]
    pub(crate) write: PatientWriteOptions,
}

/// Arguments of `care end`.
#[derive(Args, Debug, Clone)]
pub(crate) struct EndArgs {
    /// NHS number of the patient.
    #[arg(long = "nhs", value_name = "NHS_NUMBER", value_parser = crate::codes::nhs_number)]
    pub(crate) nhs_number: String,
    /// Reference the relationship was started with.
    #[arg(long = "relationship", value_name = "ID")]
    pub(crate) relationship_id: String,
    #[command(flatten)]
    pub(crate) write: PatientWriteOptions,
}

/// Runs one `care` subcommand and prints its receipt.
pub(crate) async fn run(
    channel: Channel,
    caller: &Caller,
    command: &CareCommand,
    output: Output,
) -> Result<()> {
    let mut warning = None;
    let (result, request_id) = match command {
        CareCommand::RegisterPatient(args) => {
            let answer = register_patient(channel, caller, args).await?;
            // Recorded either way; the warning is for the operator who
            // would otherwise learn it from the patient's denies.
            warning = population::warning(&args.nhs_number, &answer.outside_population);
            (write::written(answer.result)?, args.write.request_id())
        }
        CareCommand::Start(args) => (start(channel, caller, args).await?, args.write.request_id()),
        CareCommand::End(args) => (end(channel, caller, args).await?, args.write.request_id()),
    };
    write::print_receipt(output, &result, request_id)?;
    if let Some(warning) = warning {
        eprintln!("{warning}");
    }
    Ok(())
}

/// Registers a patient with their GP practice; the answer says whether the
/// practice brings them into the population.
pub(crate) async fn register_patient(
    channel: Channel,
    caller: &Caller,
    args: &RegisterPatientArgs,
) -> Result<RegisterPatientResponse> {
    let request = RegisterPatientRequest {
        request_id: args.write.request_id().to_owned(),
        nhs_number: args.nhs_number.clone(),
        gp_practice_ods: args.gp_practice_ods.clone(),
        date_of_birth: args.date_of_birth.clone(),
        user_id: caller.user_id(),
        expected_stream_version: args.write.expected_version,
    };
    let call = CallContext::patient_write(args.write.request_id(), &args.nhs_number);
    let response = CareContextServiceClient::new(channel)
        .register_patient(caller.request(request))
        .await
        .map_err(|status| call.rejected(status))?;
    Ok(response.into_inner())
}

/// Starts a care relationship.
pub(crate) async fn start(
    channel: Channel,
    caller: &Caller,
    args: &StartArgs,
) -> Result<WriteResult> {
    let request = StartCareRelationshipRequest {
        request_id: args.write.request_id().to_owned(),
        nhs_number: args.nhs_number.clone(),
        relationship_id: args.relationship_id.clone(),
        organisation_ods: args.organisation_ods.clone(),
        kind: args.kind.into(),
        user_id: caller.user_id(),
        expected_stream_version: args.write.expected_version,
    };
    let call = CallContext::patient_write(args.write.request_id(), &args.nhs_number);
    let response = CareContextServiceClient::new(channel)
        .start_care_relationship(caller.request(request))
        .await
        .map_err(|status| call.rejected(status))?;
    write::written(response.into_inner().result)
}

/// Ends a care relationship.
pub(crate) async fn end(channel: Channel, caller: &Caller, args: &EndArgs) -> Result<WriteResult> {
    let request = EndCareRelationshipRequest {
        request_id: args.write.request_id().to_owned(),
        nhs_number: args.nhs_number.clone(),
        relationship_id: args.relationship_id.clone(),
        user_id: caller.user_id(),
        expected_stream_version: args.write.expected_version,
    };
    let call = CallContext::patient_write(args.write.request_id(), &args.nhs_number);
    let response = CareContextServiceClient::new(channel)
        .end_care_relationship(caller.request(request))
        .await
        .map_err(|status| call.rejected(status))?;
    write::written(response.into_inner().result)
}

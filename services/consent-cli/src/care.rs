//! `care`: the care context GP and hospital systems feed in: which practice
//! a patient is registered with, and which organisations are caring for them.

mod population;

use anyhow::Result;
use clap::{Args, Subcommand};
use icr_proto::pb::care_context_service_client::CareContextServiceClient;
use icr_proto::pb::{
    CareRelationshipKind, EndCareRelationshipRequest, RegisterPatientRequest,
    StartCareRelationshipRequest,
};
use tonic::transport::Channel;

use crate::caller::Caller;
use crate::dates;
use crate::names;
use crate::output::Output;
use crate::write::{self, PatientWriteOptions, patient_request};

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
    let mut client = CareContextServiceClient::new(channel);
    let mut warning = None;
    let (write, nhs_number, answer) = match command {
        CareCommand::RegisterPatient(args) => {
            let request = patient_request!(
                args.write.header(&args.nhs_number, caller),
                RegisterPatientRequest {
                    gp_practice_ods: args.gp_practice_ods.clone(),
                    date_of_birth: args.date_of_birth.clone(),
                }
            );
            let answer = client.register_patient(caller.request(request)).await;
            let answer = answer.map(|response| {
                let response = response.into_inner();
                // Recorded either way; the warning is for the operator who
                // would otherwise learn it from the patient's denies.
                warning = population::warning(&args.nhs_number, &response.outside_population);
                response.result
            });
            (&args.write, &args.nhs_number, answer)
        }
        CareCommand::Start(args) => {
            let request = patient_request!(
                args.write.header(&args.nhs_number, caller),
                StartCareRelationshipRequest {
                    relationship_id: args.relationship_id.clone(),
                    organisation_ods: args.organisation_ods.clone(),
                    kind: args.kind.into(),
                }
            );
            let answer = client.start_care_relationship(caller.request(request));
            let answer = answer.await.map(|response| response.into_inner().result);
            (&args.write, &args.nhs_number, answer)
        }
        CareCommand::End(args) => {
            let request = patient_request!(
                args.write.header(&args.nhs_number, caller),
                EndCareRelationshipRequest {
                    relationship_id: args.relationship_id.clone(),
                }
            );
            let answer = client.end_care_relationship(caller.request(request));
            let answer = answer.await.map(|response| response.into_inner().result);
            (&args.write, &args.nhs_number, answer)
        }
    };
    let result = write::written(write.answered(nhs_number, answer)?)?;
    write::print_receipt(output, &result, write.request_id())?;
    if let Some(warning) = warning {
        eprintln!("{warning}");
    }
    Ok(())
}

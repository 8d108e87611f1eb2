//! `consent permission`: in a permission-to-view region, the patient lets
//! the organisation treating them see their record for an episode of care.

use anyhow::Result;
use clap::{Args, Subcommand};
use icr_proto::pb::consent_service_client::ConsentServiceClient;
use icr_proto::pb::{
    GrantPermissionToViewRequest, RevokePermissionToViewRequest, Submitter, WriteResult,
};
use prost_types::Timestamp;
use tonic::Status;
use tonic::transport::Channel;

use super::submitter;
use crate::caller::Caller;
use crate::dates;
use crate::output::Output;
use crate::write::{self, PatientWrite, PatientWriteOptions, patient_request};

/// Subcommands of `consent permission`.
#[derive(Subcommand, Debug, Clone)]
pub(crate) enum PermissionCommand {
    /// Record the patient's permission for an organisation to view.
    Grant(GrantArgs),
    /// Revoke an organisation's permission to view.
    Revoke(RevokeArgs),
}

/// Arguments of `consent permission grant`.
#[derive(Args, Debug, Clone)]
pub(crate) struct GrantArgs {
    /// NHS number of the patient giving permission.
    #[arg(long = "nhs", value_name = "NHS_NUMBER", value_parser = crate::codes::nhs_number)]
    pub(crate) nhs_number: String,
    /// ODS code of the organisation allowed to view.
    #[arg(long = "org", value_name = "ODS", value_parser = crate::codes::ods_code)]
    pub(crate) organisation_ods: String,
    /// When the permission lapses, as an RFC 3339 timestamp such as
    /// 2026-03-31T23:59:59Z (the end of the episode of care).
    #[arg(long, value_name = "TIMESTAMP", value_parser = dates::parse_timestamp)]
    pub(crate) until: Timestamp,
    /// Id of the registered attorney acting for the patient; without it the
    /// patient acts themself.
    #[arg(long, value_name = "ID")]
    pub(crate) attorney: Option<String>,
    #[command(flatten)]
    pub(crate) write: PatientWriteOptions,
}

/// Arguments of `consent permission revoke`.
#[derive(Args, Debug, Clone)]
pub(crate) struct RevokeArgs {
    /// NHS number of the patient who gave permission.
    #[arg(long = "nhs", value_name = "NHS_NUMBER", value_parser = crate::codes::nhs_number)]
    pub(crate) nhs_number: String,
    /// ODS code of the organisation whose permission ends.
    #[arg(long = "org", value_name = "ODS", value_parser = crate::codes::ods_code)]
    pub(crate) organisation_ods: String,
    /// Id of the registered attorney acting for the patient; without it the
    /// patient acts themself.
    #[arg(long, value_name = "ID")]
    pub(crate) attorney: Option<String>,
    #[command(flatten)]
    pub(crate) write: PatientWriteOptions,
}

/// Runs one `consent permission` subcommand and prints its receipt.
pub(crate) async fn run(
    channel: Channel,
    caller: &Caller,
    command: &PermissionCommand,
    output: Output,
) -> Result<()> {
    let (change, nhs_number, organisation_ods, attorney, write) = match command {
        PermissionCommand::Grant(args) => (
            PermissionChange::Grant { until: args.until },
            &args.nhs_number,
            &args.organisation_ods,
            &args.attorney,
            &args.write,
        ),
        PermissionCommand::Revoke(args) => (
            PermissionChange::Revoke,
            &args.nhs_number,
            &args.organisation_ods,
            &args.attorney,
            &args.write,
        ),
    };
    let header = write.header(nhs_number, caller);
    let submitter = submitter(attorney.as_deref());
    let answer =
        send_permission(channel, caller, change, header, organisation_ods, submitter).await;
    let result = write::written(write.answered(nhs_number, answer)?)?;
    write::print_receipt(output, &result, write.request_id())
}

/// Which way a permission to view changes.
#[derive(Debug, Clone, Copy)]
pub(super) enum PermissionChange {
    /// Grant it until a time (GrantPermissionToView).
    Grant {
        /// When the permission lapses.
        until: Timestamp,
    },
    /// Revoke it (RevokePermissionToView).
    Revoke,
}

/// Sends a change to `organisation_ods`'s permission to view: the result the
/// service answered with, or its refusal as sent. `consent permission` and
/// the FHIR import both send through here.
pub(super) async fn send_permission(
    channel: Channel,
    caller: &Caller,
    change: PermissionChange,
    header: PatientWrite,
    organisation_ods: &str,
    submitter: Submitter,
) -> Result<Option<WriteResult>, Status> {
    let mut client = ConsentServiceClient::new(channel);
    let organisation_ods = organisation_ods.to_owned();
    let submitter = Some(submitter);
    let result = match change {
        PermissionChange::Grant { until } => {
            let request = patient_request!(
                header,
                GrantPermissionToViewRequest {
                    organisation_ods,
                    until: Some(until),
                    submitter,
                }
            );
            let response = client.grant_permission_to_view(caller.request(request));
            response.await?.into_inner().result
        }
        PermissionChange::Revoke => {
            let request = patient_request!(
                header,
                RevokePermissionToViewRequest {
                    organisation_ods,
                    submitter,
                }
            );
            let response = client.revoke_permission_to_view(caller.request(request));
            response.await?.into_inner().result
        }
    };
    Ok(result)
}

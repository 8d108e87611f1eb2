//! `consent permission`: in a permission-to-view region, the patient lets
//! the organisation treating them see their record for an episode of care.

use anyhow::Result;
use clap::{Args, Subcommand};
use icr_proto::pb::consent_service_client::ConsentServiceClient;
use icr_proto::pb::{GrantPermissionToViewRequest, RevokePermissionToViewRequest, WriteResult};
use prost_types::Timestamp;
use tonic::transport::Channel;

use super::submitter;
use crate::caller::Caller;
use crate::dates;
use crate::failure::CallContext;
use crate::output::Output;
use crate::write::{self, PatientWriteOptions};

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
    let (result, request_id) = match command {
        PermissionCommand::Grant(args) => {
            (grant(channel, caller, args).await?, args.write.request_id())
        }
        PermissionCommand::Revoke(args) => (
            revoke(channel, caller, args).await?,
            args.write.request_id(),
        ),
    };
    write::print_receipt(output, &result, request_id)
}

/// Grants a permission to view.
pub(crate) async fn grant(
    channel: Channel,
    caller: &Caller,
    args: &GrantArgs,
) -> Result<WriteResult> {
    let request = GrantPermissionToViewRequest {
        request_id: args.write.request_id().to_owned(),
        nhs_number: args.nhs_number.clone(),
        organisation_ods: args.organisation_ods.clone(),
        until: Some(args.until),
        submitter: Some(submitter(args.attorney.as_deref())),
        user_id: caller.user_id(),
        expected_stream_version: args.write.expected_version,
    };
    let call = CallContext::patient_write(args.write.request_id(), &args.nhs_number);
    let response = ConsentServiceClient::new(channel)
        .grant_permission_to_view(caller.request(request))
        .await
        .map_err(|status| call.rejected(status))?;
    write::written(response.into_inner().result)
}

/// Revokes a permission to view.
pub(crate) async fn revoke(
    channel: Channel,
    caller: &Caller,
    args: &RevokeArgs,
) -> Result<WriteResult> {
    let request = RevokePermissionToViewRequest {
        request_id: args.write.request_id().to_owned(),
        nhs_number: args.nhs_number.clone(),
        organisation_ods: args.organisation_ods.clone(),
        submitter: Some(submitter(args.attorney.as_deref())),
        user_id: caller.user_id(),
        expected_stream_version: args.write.expected_version,
    };
    let call = CallContext::patient_write(args.write.request_id(), &args.nhs_number);
    let response = ConsentServiceClient::new(channel)
        .revoke_permission_to_view(caller.request(request))
        .await
        .map_err(|status| call.rejected(status))?;
    write::written(response.into_inner().result)
}

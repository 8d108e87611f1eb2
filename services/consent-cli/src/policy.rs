//! `policy`: administration of the sharing agreement. Every change is an
//! event in the log, so `consent-cli events` is its history.

use anyhow::Result;
use clap::{Args, Subcommand};
use icr_proto::pb::policy_admin_service_client::PolicyAdminServiceClient;
use icr_proto::pb::{
    ConsentModel, JoinOrganisationRequest, LeaveOrganisationRequest, Purpose, RecordSection,
    SetRegionPolicyRequest, SetRolePolicyRequest, WriteResult,
};
use tonic::transport::Channel;

use crate::caller::Caller;
use crate::failure::CallContext;
use crate::names;
use crate::output::Output;
use crate::write::{self, WriteOptions};

/// Subcommands of `policy`.
#[derive(Subcommand, Debug, Clone)]
pub(crate) enum PolicyCommand {
    /// Add an organisation to the sharing agreement.
    JoinOrg(JoinOrgArgs),
    /// Remove an organisation from the sharing agreement.
    LeaveOrg(LeaveOrgArgs),
    /// Set the record sections and purposes a job role may see.
    SetRole(SetRoleArgs),
    /// Set a region's consent model and viewing rules.
    SetRegion(SetRegionArgs),
    /// Bring the service's policy to what a policy pack on disk says: print
    /// the changes needed (regions to set, organisations to join or leave,
    /// roles to set) and make them, unless --dry-run. Safe to re-run.
    Apply(crate::policy_apply::ApplyArgs),
    /// Run a policy pack's scenarios, each against a fresh consent-service
    /// started with the pack on disk (no running service needed; the
    /// consent-service binary beside this one, or --service-binary).
    Test(crate::policy_test::TestArgs),
}

/// Arguments of `policy join-org`.
#[derive(Args, Debug, Clone)]
pub(crate) struct JoinOrgArgs {
    /// ODS code of the organisation.
    #[arg(long = "ods", value_name = "ODS", value_parser = crate::codes::ods_code)]
    pub(crate) ods_code: String,
    /// Name of the organisation.
    #[arg(long, value_name = "TEXT")]
    pub(crate) name: String,
    /// Code of the region (integrated care system) it belongs to, e.g. QWU.
    #[arg(long, value_name = "CODE")]
    pub(crate) region: String,
    #[command(flatten)]
    pub(crate) write: WriteOptions,
}

/// Arguments of `policy leave-org`.
#[derive(Args, Debug, Clone)]
pub(crate) struct LeaveOrgArgs {
    /// ODS code of the organisation.
    #[arg(long = "ods", value_name = "ODS", value_parser = crate::codes::ods_code)]
    pub(crate) ods_code: String,
    #[command(flatten)]
    pub(crate) write: WriteOptions,
}

/// Arguments of `policy set-role`.
#[derive(Args, Debug, Clone)]
pub(crate) struct SetRoleArgs {
    /// National RBAC job-role code, e.g. R8000.
    #[arg(long = "code", value_name = "CODE")]
    pub(crate) role_code: String,
    /// What the role is, e.g. "Clinical Practitioner Access Role".
    #[arg(long, value_name = "TEXT")]
    pub(crate) description: String,
    /// Record sections the role may see (repeated or comma-separated); the
    /// list replaces the role's current one.
    #[arg(
        long = "section",
        value_name = "SECTION",
        required = true,
        num_args = 1..,
        value_delimiter = ',',
        value_parser = names::parser::<RecordSection>(),
    )]
    pub(crate) sections: Vec<RecordSection>,
    /// Purposes the role may view for (repeated or comma-separated).
    #[arg(
        long = "purpose",
        value_name = "PURPOSE",
        required = true,
        num_args = 1..,
        value_delimiter = ',',
        value_parser = names::parser::<Purpose>(),
    )]
    pub(crate) purposes: Vec<Purpose>,
    /// The role is clinical: it may use break glass where the region permits.
    #[arg(long)]
    pub(crate) clinical: bool,
    #[command(flatten)]
    pub(crate) write: WriteOptions,
}

/// Arguments of `policy set-region`.
#[derive(Args, Debug, Clone)]
pub(crate) struct SetRegionArgs {
    /// Region code, e.g. QWU.
    #[arg(long = "code", value_name = "CODE")]
    pub(crate) region: String,
    /// Name of the region, e.g. "Coventry and Warwickshire".
    #[arg(long, value_name = "TEXT")]
    pub(crate) name: String,
    /// How the region treats patients' consent.
    #[arg(long = "model", value_name = "MODEL", value_parser = names::parser::<ConsentModel>())]
    pub(crate) consent_model: ConsentModel,
    /// Youngest age, in whole years, whose records are included.
    #[arg(long, value_name = "YEARS")]
    pub(crate) minimum_age: u32,
    /// Other region whose organisations may view this region's patients for
    /// care given there (repeated or comma-separated; the region itself
    /// always may).
    #[arg(long = "viewing-region", value_name = "CODE", num_args = 1.., value_delimiter = ',')]
    pub(crate) viewing_regions: Vec<String>,
    /// Clinical roles may use break glass (emergency access, reviewed).
    #[arg(long)]
    pub(crate) break_glass: bool,
    /// Requesters may claim an unrecorded care relationship, with a reason.
    #[arg(long)]
    pub(crate) self_claimed_relationship: bool,
    /// Days within which exceptional accesses must be reviewed.
    #[arg(long, value_name = "DAYS", default_value_t = 7)]
    pub(crate) review_within_days: u32,
    /// Secondary use may only see pseudonymised data.
    #[arg(long)]
    pub(crate) secondary_use_pseudonymised: bool,
    /// Children's social care is shared from this date (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub(crate) children_social_care_from: Option<String>,
    #[command(flatten)]
    pub(crate) write: WriteOptions,
}

/// Runs one `policy` subcommand and prints its receipt. `apply` may open a
/// second connection, under another identity, from the `global` options.
pub(crate) async fn run(
    channel: Channel,
    caller: &Caller,
    command: &PolicyCommand,
    output: Output,
    global: &crate::GlobalOptions,
) -> Result<()> {
    let (result, write) = match command {
        PolicyCommand::JoinOrg(args) => (join_org(channel, caller, args).await?, &args.write),
        PolicyCommand::LeaveOrg(args) => (leave_org(channel, caller, args).await?, &args.write),
        PolicyCommand::SetRole(args) => (set_role(channel, caller, args).await?, &args.write),
        PolicyCommand::SetRegion(args) => (set_region(channel, caller, args).await?, &args.write),
        PolicyCommand::Apply(args) => {
            return crate::policy_apply::run(channel, caller, args, output, global).await;
        }
        PolicyCommand::Test(args) => return crate::policy_test::run(args, output).await,
    };
    write::print_receipt(output, &result, &write.request_id)
}

/// Adds an organisation to the sharing agreement.
pub(crate) async fn join_org(
    channel: Channel,
    caller: &Caller,
    args: &JoinOrgArgs,
) -> Result<WriteResult> {
    let request = JoinOrganisationRequest {
        request_id: args.write.request_id.clone(),
        ods_code: args.ods_code.clone(),
        name: args.name.clone(),
        region: args.region.clone(),
        user_id: caller.user_id(),
        expected_stream_version: None,
    };
    let response = PolicyAdminServiceClient::new(channel)
        .join_organisation(caller.request(request))
        .await
        .map_err(|status| CallContext::policy_write(&args.write.request_id).rejected(status))?;
    write::written(response.into_inner().result)
}

/// Removes an organisation from the sharing agreement.
pub(crate) async fn leave_org(
    channel: Channel,
    caller: &Caller,
    args: &LeaveOrgArgs,
) -> Result<WriteResult> {
    let request = LeaveOrganisationRequest {
        request_id: args.write.request_id.clone(),
        ods_code: args.ods_code.clone(),
        user_id: caller.user_id(),
        expected_stream_version: None,
    };
    let response = PolicyAdminServiceClient::new(channel)
        .leave_organisation(caller.request(request))
        .await
        .map_err(|status| CallContext::policy_write(&args.write.request_id).rejected(status))?;
    write::written(response.into_inner().result)
}

/// Sets a role's policy.
pub(crate) async fn set_role(
    channel: Channel,
    caller: &Caller,
    args: &SetRoleArgs,
) -> Result<WriteResult> {
    let request = SetRolePolicyRequest {
        request_id: args.write.request_id.clone(),
        role_code: args.role_code.clone(),
        description: args.description.clone(),
        sections: args
            .sections
            .iter()
            .map(|&section| section.into())
            .collect(),
        purposes: args
            .purposes
            .iter()
            .map(|&purpose| purpose.into())
            .collect(),
        clinical: args.clinical,
        user_id: caller.user_id(),
        expected_stream_version: None,
    };
    let response = PolicyAdminServiceClient::new(channel)
        .set_role_policy(caller.request(request))
        .await
        .map_err(|status| CallContext::policy_write(&args.write.request_id).rejected(status))?;
    write::written(response.into_inner().result)
}

/// Sets a region's policy.
pub(crate) async fn set_region(
    channel: Channel,
    caller: &Caller,
    args: &SetRegionArgs,
) -> Result<WriteResult> {
    let request = SetRegionPolicyRequest {
        request_id: args.write.request_id.clone(),
        region: args.region.clone(),
        name: args.name.clone(),
        consent_model: args.consent_model.into(),
        minimum_age: args.minimum_age,
        viewing_regions: args.viewing_regions.clone(),
        break_glass: args.break_glass,
        self_claimed_relationship: args.self_claimed_relationship,
        review_within_days: args.review_within_days,
        secondary_use_pseudonymised: args.secondary_use_pseudonymised,
        children_social_care_from: args.children_social_care_from.clone().unwrap_or_default(),
        user_id: caller.user_id(),
        expected_stream_version: None,
    };
    let response = PolicyAdminServiceClient::new(channel)
        .set_region_policy(caller.request(request))
        .await
        .map_err(|status| CallContext::policy_write(&args.write.request_id).rejected(status))?;
    write::written(response.into_inner().result)
}

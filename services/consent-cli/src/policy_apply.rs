//! `policy apply <PACK_DIR> [--dry-run]`: bring the service's policy to
//! what a pack on disk says, through the policy RPCs.
//!
//! The pack is read and checked by the loader the service itself uses at
//! first start (`PolicyFiles`), so a pack `apply` accepts is one the
//! service would load. The service's current policy is the latest event of
//! each policy stream, read with `ReadEvents` filtered to the policy event
//! types. The difference is printed as a plan; unless `--dry-run`, each
//! change is then submitted under a request id derived from the plan (see
//! [`plan`]), so re-running after a failure part-way makes each change at
//! most once, and applying the same pack again plans nothing.
//!
//! A pack changes only the one region it owns, the one its organisations
//! are in (a pack whose organisations span regions is refused); a
//! neighbouring region it declares is created if the service does not
//! know it, and otherwise left as it is and shown as skipped. Where the
//! plan overwrites what this pack did not write last (the owned region's
//! settings or an organisation's membership, written by another pack, as
//! bsw and bath-north-east-somerset both describe QOX, or by an
//! administrator), nothing is sent unless `--take-over` is given.
//!
//! Each change is sent with the version of its stream the plan was read
//! at, so an administrator's change made between the read and the write is
//! never overwritten: the service refuses the write (`Aborted`), apply
//! stops there and sends nothing further, and says to run it again.

mod plan;
mod writer;

use std::path::PathBuf;

use anyhow::{Context, Result, anyhow};
use clap::Args;
use icr_packs::requests::{PolicyRequest, Submission};
use icr_proto::pb::policy_admin_service_client::PolicyAdminServiceClient;
use icr_proto::pb::{ReadEventsRequest, WriteResult};
use serde_json::{Value, json};
use tonic::Code;
use tonic::transport::Channel;

use crate::caller::Caller;
use crate::failure::CallContext;
use crate::output::{self, Output};
use crate::replay::Replayed;
use crate::{events, policy_test, write};

use plan::{Change, CurrentPolicy, Plan};

/// The event types that make up policy.
const POLICY_EVENT_TYPES: [&str; 4] = [
    "OrganisationJoined",
    "OrganisationLeft",
    "RolePolicySet",
    "RegionPolicySet",
];

/// Columns of the plan (and, once applied, of the result).
const PLAN_FIELDS: &[&str] = &["action", "stream", "why", "detail"];
const APPLIED_FIELDS: &[&str] = &["action", "stream", "why", "log_position", "replayed"];

/// Arguments of `policy apply`.
#[derive(Args, Debug, Clone)]
pub(crate) struct ApplyArgs {
    /// The pack's directory, e.g. `policies/coventry-warwickshire`: its
    /// `pack.toml`, with `model.conf` and `rules.csv` from its parent
    /// directory (checked together, as the service checks them).
    #[arg(value_name = "PACK_DIR")]
    pub(crate) pack_dir: PathBuf,
    /// Print the plan and change nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Apply even where the pack overwrites what it did not write last:
    /// the settings of the region it owns, or an organisation's membership,
    /// last written by another pack (bsw and bath-north-east-somerset both
    /// describe QOX), by an administrator's own command or by a writer that
    /// is not a pack. Those settings are replaced, and organisations of the
    /// region the pack does not list leave.
    #[arg(long)]
    pub(crate) take_over: bool,
    /// Under mutual TLS, the client certificate (PEM) of an auditor
    /// identity to read the current policy with: reading the log is the
    /// auditor's, changing policy the policy administrator's (--tls-cert).
    #[arg(long, value_name = "PEM", requires = "read_tls_key")]
    pub(crate) read_tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --read-tls-cert.
    #[arg(long, value_name = "PEM", requires = "read_tls_cert")]
    pub(crate) read_tls_key: Option<PathBuf>,
}

/// Runs `policy apply`: reads with `--read-tls-cert` when given, writes
/// on `channel`.
pub(crate) async fn run(
    channel: Channel,
    caller: &Caller,
    args: &ApplyArgs,
    output: Output,
    global: &crate::GlobalOptions,
) -> Result<()> {
    let (files, _) = policy_test::pack(&args.pack_dir)?;
    let pack_file = args.pack_dir.join("pack.toml");
    let desired = files
        .pack_events()
        .with_context(|| format!("{} is not a valid pack", pack_file.display()))?;
    files
        .check()
        .await
        .with_context(|| format!("{} is not a valid pack", pack_file.display()))?;
    let reader = match (&args.read_tls_cert, &args.read_tls_key) {
        (Some(cert), Some(key)) => {
            let mut reading = global.clone();
            reading.tls_cert = Some(cert.clone());
            reading.tls_key = Some(key.clone());
            crate::connect(&global.endpoint, &reading)
                .await
                .context("connecting with --read-tls-cert and --read-tls-key")?
        }
        _ => channel.clone(),
    };
    let current = read_current(reader, caller).await?;
    let plan = plan::plan(&files.pack_name, &desired, &current)
        .with_context(|| format!("{} cannot be applied", pack_file.display()))?;
    if plan.changes.is_empty() {
        return print_nothing_to_change(output, &files.pack_name, &plan, args.dry_run);
    }
    if args.dry_run {
        return print_plan(output, &plan);
    }
    if !plan.taken_over.is_empty() && !args.take_over {
        let taken: Vec<String> = plan
            .taken_over
            .iter()
            .map(plan::TakeOver::sentence)
            .collect();
        anyhow::bail!(
            "{}: applying pack {} would overwrite what it did not write last (a region's \
             settings replaced, organisations made to leave or joined again). Nothing was sent. \
             Check the plan with --dry-run, then add --take-over to apply it",
            taken.join("; "),
            files.pack_name
        );
    }
    apply(channel, caller, &plan, output).await
}

/// Submits the plan's changes in order, stopping at the first refused.
async fn apply(channel: Channel, caller: &Caller, plan: &Plan, output: Output) -> Result<()> {
    let mut applied = Vec::new();
    for change in &plan.changes {
        match submit(channel.clone(), caller, change).await {
            Ok(result) => applied.push(applied_record(change, &result)),
            Err(error) => {
                print_applied(output, &applied, plan)?;
                return Err(error.context(format!(
                    "{} of {} changes applied, nothing further sent; run the same command \
                     again to apply the rest (the changes made are not repeated)",
                    applied.len(),
                    plan.changes.len()
                )));
            }
        }
    }
    print_applied(output, &applied, plan)
}

/// The service's policy: every policy event, folded in log order.
async fn read_current(channel: Channel, caller: &Caller) -> Result<CurrentPolicy> {
    let request = ReadEventsRequest {
        from_position: 1,
        event_types: POLICY_EVENT_TYPES.map(str::to_owned).to_vec(),
        ..ReadEventsRequest::default()
    };
    let mut current = CurrentPolicy::default();
    events::read_events(channel, caller, request, |message| {
        if let Replayed::Item(event) = message {
            current.apply(&event);
        }
        Ok(())
    })
    .await
    .context(
        "reading the service's current policy with AuditService.ReadEvents (under mutual \
         TLS, give an auditor identity's certificate with --read-tls-cert and --read-tls-key)",
    )?;
    Ok(current)
}

/// Submits one change through its policy RPC, on condition that its stream
/// is still at the version the plan was read at.
async fn submit(channel: Channel, caller: &Caller, change: &Change) -> Result<WriteResult> {
    let submission = Submission {
        request_id: change.request_id.clone(),
        user_id: caller.user_id(),
        expected_stream_version: Some(change.version),
    };
    let Some(request) = change
        .payload
        .kind
        .clone()
        .and_then(|kind| PolicyRequest::new(kind, submission))
    else {
        anyhow::bail!("{}: not a policy change", change.stream);
    };
    let metadata = caller.request(()).into_parts().0;
    let result = request
        .send(&mut PolicyAdminServiceClient::new(channel), &metadata)
        .await
        .map_err(|status| rejected(change, status))
        .with_context(|| format!("{} {}", change.action(), change.stream))?;
    write::written(result)
}

/// The error for a refused change: a stale plan says to plan again.
fn rejected(change: &Change, status: tonic::Status) -> anyhow::Error {
    if status.code() == Code::Aborted {
        return anyhow!(
            "{} changed since the plan was read (Aborted: {}); nothing was overwritten. \
             Run the same command again to plan against the service's current policy",
            change.stream,
            status.message()
        );
    }
    CallContext::policy_write(&change.request_id).rejected(status)
}

/// One applied change, as a record of the result.
fn applied_record(change: &Change, result: &WriteResult) -> Value {
    let mut record = change.record();
    record["log_position"] = json!(result.log_position);
    record["event_id"] = json!(result.event_id);
    record["replayed"] = json!(result.replayed);
    record
}

/// The skipped neighbouring regions as records, after the changes.
fn skipped_records(plan: &Plan) -> Vec<Value> {
    plan.skipped.iter().map(plan::Skipped::record).collect()
}

/// The changes that need --take-over, as records of the plan.
fn take_over_records(plan: &Plan) -> Vec<Value> {
    plan.taken_over.iter().map(plan::TakeOver::record).collect()
}

/// ", 2 neighbouring regions left as they are", or nothing.
fn skipped_note(plan: &Plan) -> String {
    match plan.skipped.len() {
        0 => String::new(),
        1 => ", 1 neighbouring region left as it is".to_owned(),
        n => format!(", {n} neighbouring regions left as they are"),
    }
}

/// The plan of a dry run: a table and a closing line, or JSON lines.
fn print_plan(output: Output, plan: &Plan) -> Result<()> {
    let mut records = take_over_records(plan);
    records.extend(plan.changes.iter().map(Change::record));
    records.extend(skipped_records(plan));
    output.records(PLAN_FIELDS, &records)?;
    if !output.is_json() {
        let take_over = if plan.taken_over.is_empty() {
            ""
        } else {
            "; applying needs --take-over"
        };
        output::write_text(&format!(
            "dry run: {} changes planned, none submitted{}{take_over}\n",
            plan.changes.len(),
            skipped_note(plan)
        ))?;
    }
    Ok(())
}

/// The changes applied and the regions skipped: a table and a closing
/// line, or JSON lines.
fn print_applied(output: Output, applied: &[Value], plan: &Plan) -> Result<()> {
    if applied.is_empty() {
        return Ok(());
    }
    let mut records = applied.to_vec();
    records.extend(skipped_records(plan));
    output.records(APPLIED_FIELDS, &records)?;
    if !output.is_json() {
        output::write_text(&format!(
            "{} changes applied{}\n",
            applied.len(),
            skipped_note(plan)
        ))?;
    }
    Ok(())
}

/// Says the service already has the pack: a sentence, or one JSON line,
/// after the neighbouring regions skipped.
fn print_nothing_to_change(output: Output, pack: &str, plan: &Plan, dry_run: bool) -> Result<()> {
    let skipped = skipped_records(plan);
    if !skipped.is_empty() {
        output.records(PLAN_FIELDS, &skipped)?;
    }
    if output.is_json() {
        output::json_line(&json!({
            "pack": pack,
            "changes": 0,
            "skipped": plan.skipped.len(),
            "dry_run": dry_run,
        }))?;
    } else {
        output::write_text(&format!(
            "nothing to change: the service's policy already matches pack {pack}{}\n",
            skipped_note(plan)
        ))?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "policy_apply/apply_tests.rs"]
mod tests;

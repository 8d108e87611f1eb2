//! `consent import-fhir`: record the decisions held as FHIR R4 `Consent`
//! resources (one resource, a `Bundle`, or NDJSON) through the service.
//!
//! Every resource is mapped first (`icr_fhir::consent_import`), and the
//! file checked as a whole (one Consent per objection or permission, each
//! id once); if any one cannot be represented faithfully, nothing is sent
//! and each rejection is printed with the element at fault. Otherwise the
//! changes are sent in file order, each under a request id derived from
//! its resource, so that importing the same file again is a replay that
//! appends nothing; as the same user only, since the service's fingerprint
//! of a request covers its `user_id` (another user's re-import is refused
//! as a reused request id, and the import stops there).
//!
//! Each row's outcome is `written` (`replayed` when sent before and still
//! current), `already_in_effect` (an objection already active),
//! `not_in_effect` (an inactive Consent for something not in force, from
//! the patient or an attorney whose power is in date: nothing to end; the
//! reason quotes the service's refusal), or `superseded`: a replay of a change a later change
//! has undone, which is an error, because what the Consent says is not in
//! effect (see `send`). Every row is sent even so, and the command then
//! fails naming the superseded resources.

mod send;
mod state;

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, Result, anyhow};
use clap::Args;
use icr_fhir::consent_import::{
    ConsentChange, ConsentSubmitter, ImportContext, ImportPlan, Rejection, plan_consent_file,
    read_consents,
};
use icr_proto::pb::{ObjectionScope, WriteResult};
use serde_json::{Value, json};
use tonic::transport::Channel;

use crate::caller::Caller;
use crate::names;
use crate::output::Output;
use send::Sent;

/// Arguments of `consent import-fhir`.
#[derive(Args, Debug, Clone)]
pub(crate) struct ImportFhirArgs {
    /// The file to import: one Consent (JSON), a Bundle of them, or NDJSON
    /// with one Consent per line; `-` reads standard input.
    #[arg(value_name = "FILE")]
    pub(crate) file: PathBuf,
    /// Map and check every resource and print what would be sent, without
    /// sending anything (no service is needed).
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// The identifier system whose values are attorney ids: a performer
    /// that is a RelatedPerson with an identifier in it acts as that
    /// attorney. Without it, only consents made by the patient import.
    #[arg(long, value_name = "URI", env = "ICR_ATTORNEY_ID_SYSTEM")]
    pub(crate) attorney_id_system: Option<String>,
}

/// The first columns of both tables, in reading order: what each change is
/// and what came of it.
const CHANGE_FIELDS: &[&str] = &[
    "resource",
    "change",
    "detail",
    "nhs_number",
    "submitter",
    "outcome",
];

/// The last columns of both tables: the request and why it came to that.
const REQUEST_FIELDS: &[&str] = &["request_id", "reason"];

/// Columns of the table of plans and rejections.
fn plan_fields() -> Vec<&'static str> {
    [CHANGE_FIELDS, REQUEST_FIELDS].concat()
}

/// Columns of the table of changes sent: the plan's, and where each change
/// was written.
fn sent_fields() -> Vec<&'static str> {
    [CHANGE_FIELDS, &["log_position", "replayed"], REQUEST_FIELDS].concat()
}

/// Maps the file and prints the plan, sending nothing (`--dry-run`).
pub(crate) fn run_offline(args: &ImportFhirArgs, output: Output) -> Result<()> {
    let plans = checked_plans(args, output)?;
    let rows: Vec<Value> = plans
        .iter()
        .map(|(name, plan)| planned_row(name, plan, "planned"))
        .collect();
    output.records(&plan_fields(), &rows)?;
    Ok(())
}

/// Maps the file and, if every resource maps, sends the changes in order.
pub(crate) async fn run(
    channel: Channel,
    caller: &Caller,
    args: &ImportFhirArgs,
    output: Output,
) -> Result<()> {
    if args.dry_run {
        return run_offline(args, output);
    }
    let plans = checked_plans(args, output)?;
    let mut rows = Vec::with_capacity(plans.len());
    let mut superseded = Vec::new();
    for (name, plan) in &plans {
        match send::send(channel.clone(), caller, plan).await {
            Ok(sent) => {
                if matches!(sent, Sent::Superseded { .. }) {
                    superseded.push(name.as_str());
                }
                rows.push(sent_row(name, plan, sent));
            }
            Err(error) => {
                // What was sent stays sent: show it, then the failure.
                output.records(&sent_fields(), &rows)?;
                return Err(error.context(format!(
                    "importing {name} failed after {} of {} resources; importing the file \
                     again as the same user is safe (what was sent replays: the user is part \
                     of each request)",
                    rows.len(),
                    plans.len()
                )));
            }
        }
    }
    output.records(&sent_fields(), &rows)?;
    if !superseded.is_empty() {
        return Err(anyhow!(
            "{} of {} resources were imported before and a later change has undone them, so \
             what they say is not in effect: {}. Importing the same content again cannot \
             change that; a Consent in force again needs a new meta.versionId or \
             meta.lastUpdated (each row's reason says what holds instead)",
            superseded.len(),
            plans.len(),
            superseded.join(", ")
        ));
    }
    Ok(())
}

/// Every resource's plan, named for the output; or, when any resource
/// cannot be imported, the table of outcomes and an error.
fn checked_plans(args: &ImportFhirArgs, output: Output) -> Result<Vec<(String, ImportPlan)>> {
    let text = read_input(&args.file)?;
    let file = if args.file.as_os_str() == "-" {
        "standard input".to_owned()
    } else {
        args.file.display().to_string()
    };
    let resources = read_consents(&text)
        .map_err(|rejection| anyhow!("{file} cannot be read: {}", describe(&rejection)))?;
    if resources.is_empty() {
        anyhow::bail!("{file} holds no resources");
    }
    let context = ImportContext::now(args.attorney_id_system.clone());
    let outcomes: Vec<(String, Result<ImportPlan, Rejection>)> = resources
        .iter()
        .enumerate()
        .map(|(index, resource)| resource_name(resource, index))
        .zip(plan_consent_file(&resources, &context))
        .collect();
    let rejected = outcomes.iter().filter(|(_, plan)| plan.is_err()).count();
    if rejected == 0 {
        return Ok(outcomes
            .into_iter()
            .filter_map(|(name, plan)| Some((name, plan.ok()?)))
            .collect());
    }
    let rows: Vec<Value> = outcomes
        .iter()
        .map(|(name, outcome)| match outcome {
            Ok(plan) => planned_row(name, plan, "not_sent"),
            Err(rejection) => rejected_row(name, rejection),
        })
        .collect();
    output.records(&plan_fields(), &rows)?;
    Err(anyhow!(
        "{rejected} of {} resources in {file} cannot be imported faithfully, so nothing was \
         sent: {}",
        outcomes.len(),
        outcomes
            .iter()
            .filter_map(|(name, outcome)| Some(format!(
                "{name}: {}",
                describe(outcome.as_ref().err()?)
            )))
            .collect::<Vec<_>>()
            .join("; ")
    ))
}

/// The file's text, or standard input's for `-`.
fn read_input(file: &PathBuf) -> Result<String> {
    if file.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading standard input")?;
        return Ok(text);
    }
    std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))
}

/// `Consent/<id>`, or the resource's place in the file when it has no id.
fn resource_name(resource: &Value, index: usize) -> String {
    let resource_type = resource["resourceType"].as_str().unwrap_or("resource");
    match resource["id"].as_str() {
        Some(id) => format!("{resource_type}/{id}"),
        None => format!("{resource_type} #{}", index + 1),
    }
}

/// A rejection as one line: where, what, and its kind's name.
fn describe(rejection: &Rejection) -> String {
    if rejection.path.is_empty() {
        format!("{} ({})", rejection.detail, rejection.kind)
    } else {
        rejection.to_string()
    }
}

/// The row of a resource that maps to `plan`.
fn planned_row(name: &str, plan: &ImportPlan, outcome: &str) -> Value {
    let mut row = json!({
        "resource": name,
        "change": plan.change.name(),
        "nhs_number": plan.nhs_number.as_str(),
        "submitter": match &plan.submitter {
            ConsentSubmitter::Patient => "patient".to_owned(),
            ConsentSubmitter::Attorney { attorney_id } => format!("attorney {attorney_id}"),
        },
        "outcome": outcome,
        "request_id": plan.request_id.as_str(),
    });
    match &plan.change {
        ConsentChange::RecordObjection { scope } | ConsentChange::WithdrawObjection { scope } => {
            let scope = names::short_name_of::<ObjectionScope>((*scope).into());
            row["detail"] = json!(scope);
            row["scope"] = json!(scope);
        }
        ConsentChange::GrantPermissionToView {
            organisation_ods,
            until,
        } => {
            row["detail"] = json!(format!("{organisation_ods} until {until}"));
            row["organisation_ods"] = json!(organisation_ods);
            row["until"] = json!(until.to_string());
        }
        ConsentChange::RevokePermissionToView { organisation_ods } => {
            row["detail"] = json!(organisation_ods);
            row["organisation_ods"] = json!(organisation_ods);
        }
    }
    row
}

/// The row of a resource the service has answered for.
fn sent_row(name: &str, plan: &ImportPlan, sent: Sent) -> Value {
    let mut row = planned_row(name, plan, sent.name());
    match sent {
        Sent::Written(result) => written(&mut row, &result),
        Sent::AlreadyInEffect(reason) | Sent::NotInEffect(reason) => row["reason"] = json!(reason),
        Sent::Superseded { result, reason } => {
            written(&mut row, &result);
            row["reason"] = json!(reason);
        }
    }
    row
}

/// The receipt of a write (or of the write a replay answered with).
fn written(row: &mut Value, result: &WriteResult) {
    row["event_id"] = json!(result.event_id);
    row["log_position"] = json!(result.log_position);
    row["stream_version"] = json!(result.stream_version);
    row["replayed"] = json!(result.replayed);
}

/// The row of a resource that cannot be imported.
fn rejected_row(name: &str, rejection: &Rejection) -> Value {
    json!({
        "resource": name,
        "outcome": "rejected",
        "reason": describe(rejection),
        "rejection_kind": rejection.kind.name(),
        "rejection_path": rejection.path.as_str(),
    })
}

//! The resources of one import file, planned together.
//!
//! Each resource is mapped alone ([`plan_consent_import`]), and then the
//! file is checked as a whole: it must hold each Consent once, and at most
//! one Consent for each thing the service records. Withdrawals and
//! revocations are keyed by patient and scope, or patient and
//! organisation, not by the Consent that made them, so two Consents about
//! the same objection would be decided by their order in the file: an
//! older inactive Consent after a newer active one would end an objection
//! that is still in force. Which of two is current cannot be told from
//! the file (`dateTime` is when the decision was made, not when the
//! resource last changed), so neither is imported.

use std::collections::BTreeMap;

use icr_proto::pb::ObjectionScope;
use serde_json::Value;

use super::rejection::{Rejection, RejectionKind};
use super::{ConsentChange, ImportContext, ImportPlan, plan_consent_import};

/// What one planned change decides: an objection or a permission of one
/// patient. Two plans with the same target conflict.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    Objection { nhs_number: String, scope: i32 },
    Permission { nhs_number: String, ods: String },
}

/// Each resource's plan or rejection, in file order. Besides the
/// rejections of [`plan_consent_import`], every resource that shares its
/// `id` with another ([`RejectionKind::RepeatedConsent`]) or changes the
/// same objection or permission as another
/// ([`RejectionKind::ConflictingConsents`]) is rejected, naming the
/// others by their place in the file (`#1` is the first).
pub fn plan_consent_file(
    resources: &[Value],
    context: &ImportContext,
) -> Vec<Result<ImportPlan, Rejection>> {
    let mut outcomes: Vec<Result<ImportPlan, Rejection>> = resources
        .iter()
        .map(|resource| plan_consent_import(resource, context))
        .collect();
    let mut conflicts = repeated_ids(resources);
    for (index, rejection) in shared_targets(resources, &outcomes) {
        conflicts.entry(index).or_insert(rejection);
    }
    for (index, rejection) in conflicts {
        if outcomes[index].is_ok() {
            outcomes[index] = Err(rejection);
        }
    }
    outcomes
}

/// A rejection for each Consent whose `id` another one in the file has.
fn repeated_ids(resources: &[Value]) -> BTreeMap<usize, Rejection> {
    let mut by_id: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (index, resource) in resources.iter().enumerate() {
        if resource["resourceType"] == "Consent"
            && let Some(id) = resource["id"].as_str()
        {
            by_id.entry(id).or_default().push(index);
        }
    }
    let mut found = BTreeMap::new();
    for (id, indexes) in by_id.into_iter().filter(|(_, found)| found.len() > 1) {
        for &index in &indexes {
            let detail = format!(
                "`{id}` is also the id of {}: two versions of one Consent, in an order that \
                 says nothing of which is current; keep only the current version",
                others(resources, &indexes, index)
            );
            found.insert(
                index,
                Rejection::new("id", RejectionKind::RepeatedConsent, detail),
            );
        }
    }
    found
}

/// A rejection for each plan whose objection or permission another plan
/// in the file also changes.
fn shared_targets(
    resources: &[Value],
    outcomes: &[Result<ImportPlan, Rejection>],
) -> BTreeMap<usize, Rejection> {
    let mut by_target: BTreeMap<Target, Vec<usize>> = BTreeMap::new();
    for (index, outcome) in outcomes.iter().enumerate() {
        if let Ok(plan) = outcome {
            by_target.entry(target(plan)).or_default().push(index);
        }
    }
    let mut found = BTreeMap::new();
    for (target, indexes) in by_target.into_iter().filter(|(_, found)| found.len() > 1) {
        let (path, what) = match &target {
            Target::Objection { nhs_number, scope } => (
                "provision.purpose",
                format!("the {} objection of {nhs_number}", scope_name(*scope)),
            ),
            Target::Permission { nhs_number, ods } => (
                "provision.actor",
                format!("{ods}'s permission to view the record of {nhs_number}"),
            ),
        };
        for &index in &indexes {
            let detail = format!(
                "{} also changes {what}; the file's order would decide the outcome, not which \
                 Consent is current: keep only the current Consent for each patient and scope \
                 or organisation",
                others(resources, &indexes, index)
            );
            found.insert(
                index,
                Rejection::new(path, RejectionKind::ConflictingConsents, detail),
            );
        }
    }
    found
}

/// The objection or permission `plan` changes.
fn target(plan: &ImportPlan) -> Target {
    let nhs_number = plan.nhs_number.clone();
    match &plan.change {
        ConsentChange::RecordObjection { scope } | ConsentChange::WithdrawObjection { scope } => {
            Target::Objection {
                nhs_number,
                scope: (*scope).into(),
            }
        }
        ConsentChange::GrantPermissionToView {
            organisation_ods, ..
        }
        | ConsentChange::RevokePermissionToView { organisation_ods } => Target::Permission {
            nhs_number,
            ods: organisation_ods.clone(),
        },
    }
}

/// The scope as people say it.
fn scope_name(scope: i32) -> &'static str {
    match ObjectionScope::try_from(scope) {
        Ok(ObjectionScope::DirectCare) => "direct-care",
        Ok(ObjectionScope::SecondaryUse) => "secondary-use",
        _ => "unspecified",
    }
}

/// The resources at `indexes` other than `this`, as `#2 (Consent/b)`.
fn others(resources: &[Value], indexes: &[usize], this: usize) -> String {
    let names: Vec<String> = indexes
        .iter()
        .filter(|&&index| index != this)
        .map(|&index| match resources[index]["id"].as_str() {
            Some(id) => format!("#{} (Consent/{id})", index + 1),
            None => format!("#{}", index + 1),
        })
        .collect();
    names.join(", ")
}

#[cfg(test)]
#[path = "file_tests.rs"]
mod tests;

//! A file is imported only when its order cannot change the outcome.

use serde_json::{Value, json};

use super::*;
use crate::consent_import::tests::{context, fixture};

fn kinds(outcomes: &[Result<ImportPlan, Rejection>]) -> Vec<Option<(String, RejectionKind)>> {
    outcomes
        .iter()
        .map(|outcome| {
            let rejection = outcome.as_ref().err()?;
            Some((rejection.path.clone(), rejection.kind))
        })
        .collect()
}

fn with_id(mut resource: Value, id: &str) -> Value {
    resource["id"] = json!(id);
    resource
}

#[test]
fn independent_consents_are_all_planned() {
    let file = [
        fixture("nhs/objection-by-patient.json"),
        fixture("nhs/objection-secondary-use.json"),
        fixture("nhs/permission-to-view.json"),
    ];
    let outcomes = plan_consent_file(&file, &context());
    assert_eq!(kinds(&outcomes), [None, None, None]);
}

#[test]
fn an_active_and_an_inactive_consent_for_one_objection_are_both_refused() {
    // B (active, newer) then A (inactive, older): in file order the
    // objection would be recorded and then withdrawn while B is in force.
    let file = [
        with_id(fixture("nhs/objection-by-patient.json"), "b"),
        with_id(fixture("nhs/objection-withdrawn.json"), "a"),
    ];
    let outcomes = plan_consent_file(&file, &context());
    let conflict = Some((
        "provision.purpose".to_owned(),
        RejectionKind::ConflictingConsents,
    ));
    assert_eq!(kinds(&outcomes), [conflict.clone(), conflict]);
    let detail = &outcomes[0].as_ref().unwrap_err().detail;
    assert!(
        detail.contains("#2 (Consent/a)") && detail.contains("direct-care objection of 9434765919"),
        "{detail}"
    );
}

#[test]
fn a_grant_and_a_revocation_for_one_organisation_are_both_refused() {
    let granted = fixture("nhs/permission-to-view.json");
    let mut revoked = with_id(granted.clone(), "ended");
    revoked["status"] = json!("inactive");
    let outcomes = plan_consent_file(&[revoked, granted], &context());
    let conflict = Some((
        "provision.actor".to_owned(),
        RejectionKind::ConflictingConsents,
    ));
    assert_eq!(kinds(&outcomes), [conflict.clone(), conflict]);
    assert!(
        outcomes[1]
            .as_ref()
            .unwrap_err()
            .detail
            .contains("RKB's permission to view"),
        "{outcomes:?}"
    );
}

#[test]
fn two_versions_of_one_consent_are_both_refused_at_their_id() {
    // As a history would hold them: the same id, a new status.
    let active = fixture("nhs/objection-by-patient.json");
    let mut inactive = active.clone();
    inactive["status"] = json!("inactive");
    let outcomes = plan_consent_file(&[inactive, active], &context());
    let repeated = Some(("id".to_owned(), RejectionKind::RepeatedConsent));
    assert_eq!(kinds(&outcomes), [repeated.clone(), repeated]);
    // Even when the versions change different things.
    let objection = fixture("nhs/objection-by-patient.json");
    let other = with_id(
        fixture("nhs/objection-secondary-use.json"),
        "objection-by-patient",
    );
    let outcomes = plan_consent_file(&[objection, other], &context());
    assert_eq!(
        kinds(&outcomes)[1],
        Some(("id".to_owned(), RejectionKind::RepeatedConsent))
    );
}

#[test]
fn a_resource_rejected_alone_keeps_its_own_reason() {
    let objection = fixture("nhs/objection-by-patient.json");
    let draft = fixture("nhs/objection-draft.json");
    let mut repeated = with_id(draft, "objection-by-patient");
    repeated["status"] = json!("draft");
    let outcomes = plan_consent_file(&[objection, repeated], &context());
    assert_eq!(
        kinds(&outcomes),
        [
            Some(("id".to_owned(), RejectionKind::RepeatedConsent)),
            Some(("status".to_owned(), RejectionKind::UnsupportedStatus)),
        ]
    );
}

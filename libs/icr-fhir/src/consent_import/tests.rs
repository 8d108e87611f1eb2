//! Each fixture's exact outcome: HL7's published R4 Consent examples (most
//! of which the service cannot represent) and NHS-style resources.

use icr_proto::pb::ObjectionScope;
use jiff::Timestamp;
use serde_json::{Value, json};

use super::*;

const NHS: &str = "9434765919";
const ATTORNEY_SYSTEM: &str = "https://example.org/fhir/Id/attorney-id";

pub(super) fn context() -> ImportContext {
    ImportContext {
        now: "2026-11-22T10:00:00Z".parse().unwrap(),
        attorney_id_system: Some(ATTORNEY_SYSTEM.to_owned()),
    }
}

pub(super) fn fixture(path: &str) -> Value {
    let file = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
    let mut resources = read_consents(&text).unwrap();
    assert_eq!(resources.len(), 1, "{file}");
    resources.remove(0)
}

pub(super) fn plan(resource: &Value) -> Result<ImportPlan, Rejection> {
    plan_consent_import(resource, &context())
}

/// The path and kind of a fixture's rejection.
fn rejected(path: &str) -> (String, RejectionKind) {
    let rejection = plan(&fixture(path)).expect_err(path);
    assert!(!rejection.detail.is_empty());
    (rejection.path, rejection.kind)
}

#[test]
fn hl7_examples_are_each_rejected_for_their_own_reason() {
    use RejectionKind::*;
    let expected = [
        // Opt-in with a period of data but no permit or deny.
        ("basic", "provision.type", Missing),
        // Emergency-only sharing (EMRGONLY) and access-only (INFAO).
        ("Emergency", "category[0]", UnsupportedCategory),
        ("grantor", "category[0]", UnsupportedCategory),
        // Opt-outs stated by policyRule alone, with a custodian actor.
        ("Out", "provision.type", Missing),
        ("notAuthor", "provision.type", Missing),
        ("notThem", "provision.type", Missing),
        ("notTime", "provision.type", Missing),
        // Deny one organisation: an objection covers every organisation.
        ("notOrg", "provision.actor[0]", UnsupportedActor),
        // Deny one document.
        ("notThis", "provision.data", UnrepresentableRestriction),
        // Exceptions by sensitivity label, and a permit for one class.
        ("pkb", "provision.provision[0]", NestedProvision),
        ("smartonfhir", "provision.provision[0]", NestedProvision),
        // A US notice of privacy practices.
        ("signature", "category[0]", UnsupportedCategory),
    ];
    for (name, path, kind) in expected {
        let file = format!("hl7/Consent-consent-example-{name}.json");
        assert_eq!(rejected(&file), (path.to_owned(), kind), "{file}");
    }
}

#[test]
fn hl7_examples_identify_no_patient_by_nhs_number() {
    // Were their shape acceptable, each would still fail here: a literal
    // `Patient/f001` reference carries no NHS number.
    let mut out = fixture("hl7/Consent-consent-example-Out.json");
    out["provision"] = json!({"type": "deny", "purpose": [
        {"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "TREAT"}]});
    let rejection = plan(&out).unwrap_err();
    assert_eq!(
        (rejection.path.as_str(), rejection.kind),
        ("patient", RejectionKind::NoNhsNumber)
    );
    assert!(rejection.detail.contains("Patient/f001"), "{rejection}");
}

#[test]
fn an_objection_by_the_patient_is_recorded() {
    let resource = fixture("nhs/objection-by-patient.json");
    let plan = plan(&resource).unwrap();
    assert_eq!(
        plan,
        ImportPlan {
            resource_id: Some("objection-by-patient".to_owned()),
            request_id: consent_request_id(
                &resource,
                &ConsentChange::RecordObjection {
                    scope: ObjectionScope::DirectCare
                }
            ),
            nhs_number: NHS.to_owned(),
            submitter: ConsentSubmitter::Patient,
            change: ConsentChange::RecordObjection {
                scope: ObjectionScope::DirectCare
            },
        }
    );
    assert!(
        plan.request_id
            .starts_with("fhir-consent-record-objection-by-patient-")
    );
}

#[test]
fn an_objection_by_an_attorney_names_the_attorney() {
    let plan = plan(&fixture("nhs/objection-by-attorney.json")).unwrap();
    assert_eq!(
        plan.submitter,
        ConsentSubmitter::Attorney {
            attorney_id: "LPA-7001".to_owned()
        }
    );
    assert_eq!(plan.nhs_number, NHS);
    // Without an attorney id system, no RelatedPerson is an attorney.
    let unconfigured = ImportContext {
        attorney_id_system: None,
        ..context()
    };
    let rejection =
        plan_consent_import(&fixture("nhs/objection-by-attorney.json"), &unconfigured).unwrap_err();
    assert_eq!(
        (rejection.path.as_str(), rejection.kind),
        ("performer[0]", RejectionKind::UnsupportedPerformer)
    );
}

#[test]
fn conditional_references_and_the_secondary_use_scope() {
    let plan = plan(&fixture("nhs/objection-secondary-use.json")).unwrap();
    assert_eq!(plan.submitter, ConsentSubmitter::Patient);
    assert_eq!(
        plan.change,
        ConsentChange::RecordObjection {
            scope: ObjectionScope::SecondaryUse
        }
    );
}

#[test]
fn an_inactive_objection_is_withdrawn() {
    let plan = plan(&fixture("nhs/objection-withdrawn.json")).unwrap();
    assert_eq!(
        plan.change,
        ConsentChange::WithdrawObjection {
            scope: ObjectionScope::DirectCare
        }
    );
}

#[test]
fn a_permission_to_view_lasts_until_the_period_ends() {
    let resource = fixture("nhs/permission-to-view.json");
    let until: Timestamp = "2030-03-31T22:59:59Z".parse().unwrap();
    assert_eq!(
        plan(&resource).unwrap().change,
        ConsentChange::GrantPermissionToView {
            organisation_ods: "RKB".to_owned(),
            until
        }
    );
    let mut ended = resource.clone();
    ended["status"] = json!("inactive");
    assert_eq!(
        plan(&ended).unwrap().change,
        ConsentChange::RevokePermissionToView {
            organisation_ods: "RKB".to_owned()
        }
    );
    let late = ImportContext {
        now: until,
        ..context()
    };
    let rejection = plan_consent_import(&resource, &late).unwrap_err();
    assert_eq!(rejection.path, "provision.period.end");
    let early = ImportContext {
        now: "2026-11-01T00:00:00Z".parse().unwrap(),
        ..context()
    };
    let rejection = plan_consent_import(&resource, &early).unwrap_err();
    assert_eq!(rejection.path, "provision.period.start");
}

#[test]
fn nhs_style_resources_we_cannot_represent_are_rejected() {
    use RejectionKind::*;
    let expected = [
        (
            "objection-time-limited",
            "provision.period",
            UnsupportedPeriod,
        ),
        (
            "objection-one-organisation",
            "provision.actor[0]",
            UnsupportedActor,
        ),
        (
            "objection-mental-health-only",
            "provision.securityLabel",
            UnrepresentableRestriction,
        ),
        ("objection-bad-nhs-number", "patient", InvalidNhsNumber),
        ("objection-draft", "status", UnsupportedStatus),
        (
            "objection-by-clinician",
            "performer[0]",
            UnsupportedPerformer,
        ),
        (
            "permission-open-ended",
            "provision.period.end",
            UnsupportedPeriod,
        ),
        (
            "permission-to-practitioner",
            "provision.actor[0].reference",
            UnsupportedActor,
        ),
        (
            "permission-date-only",
            "provision.period.end",
            UnsupportedPeriod,
        ),
    ];
    for (name, path, kind) in expected {
        let file = format!("nhs/{name}.json");
        assert_eq!(rejected(&file), (path.to_owned(), kind), "{file}");
    }
}

//! Each element that changes a Consent's meaning, changed one at a time
//! in an otherwise importable resource, is rejected at its own path.

use serde_json::{Value, json};

use super::RejectionKind;
use super::tests::{fixture, plan};

/// `resource` with the element at `pointer` set to `value` (added to its
/// parent object if absent).
fn set(mut resource: Value, pointer: &str, value: Value) -> Value {
    let (parent, key) = pointer.rsplit_once('/').expect("a JSON pointer");
    let parent = resource
        .pointer_mut(parent)
        .unwrap_or_else(|| panic!("{pointer}"));
    match parent {
        Value::Object(object) => {
            object.insert(key.to_owned(), value);
        }
        Value::Array(items) => items[key.parse::<usize>().expect("an index")] = value,
        _ => panic!("{pointer}"),
    }
    resource
}

/// The patient objection with one element changed.
fn objection_with(pointer: &str, value: Value) -> Value {
    set(fixture("nhs/objection-by-patient.json"), pointer, value)
}

fn rejection_of(resource: &Value) -> (String, RejectionKind) {
    let rejection = plan(resource).unwrap_err();
    (rejection.path, rejection.kind)
}

#[test]
fn every_element_that_changes_the_meaning_is_checked() {
    use RejectionKind::*;
    let treat =
        json!([{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "TREAT"}]);
    let hoperat =
        json!({"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "HOPERAT"});
    let cases = [
        (
            objection_with("/resourceType", json!("Patient")),
            "resourceType",
            NotAConsent,
        ),
        (objection_with("/status", json!(42)), "", NotAConsent),
        (
            objection_with("/status", json!("entered-in-error")),
            "status",
            UnsupportedStatus,
        ),
        (
            objection_with("/status", json!("rejected")),
            "status",
            UnsupportedStatus,
        ),
        (
            objection_with("/scope/coding/0/code", json!("research")),
            "scope",
            NotPrivacyScope,
        ),
        (
            objection_with("/provision/type", json!("maybe")),
            "provision.type",
            UnsupportedProvisionType,
        ),
        (
            objection_with("/provision/purpose", json!([])),
            "provision.purpose",
            Missing,
        ),
        (
            objection_with("/provision/purpose/0/code", json!("ETREAT")),
            "provision.purpose[0]",
            UnsupportedPurpose,
        ),
        (
            objection_with("/provision/purpose", json!([treat[0], hoperat])),
            "provision.purpose[1]",
            UnsupportedPurpose,
        ),
        (
            objection_with("/provision/action/0/coding/0/code", json!("collect")),
            "provision.action[0]",
            UnsupportedAction,
        ),
        (
            objection_with("/policyRule/coding/0/code", json!("OPTIN")),
            "policyRule",
            UnsupportedPolicyRule,
        ),
        (
            objection_with("/provision/provision", json!([{"type": "permit"}])),
            "provision.provision[0]",
            NestedProvision,
        ),
        (
            objection_with("/provision/class", json!([{"code": "x"}])),
            "provision.class",
            UnrepresentableRestriction,
        ),
        (
            objection_with("/provision/code", json!([{"text": "x"}])),
            "provision.code",
            UnrepresentableRestriction,
        ),
        (
            objection_with("/provision/dataPeriod", json!({"end": "2020-01-01"})),
            "provision.dataPeriod",
            UnrepresentableRestriction,
        ),
        (
            objection_with(
                "/modifierExtension",
                json!([{"url": "https://example.org/x"}]),
            ),
            "modifierExtension",
            ModifierExtension,
        ),
        (
            objection_with(
                "/provision/modifierExtension",
                json!([{"url": "https://example.org/x"}]),
            ),
            "provision.modifierExtension",
            ModifierExtension,
        ),
        (
            objection_with("/patient", json!({"reference": "Patient/1"})),
            "patient",
            NoNhsNumber,
        ),
        (
            objection_with("/patient", json!({"reference": "#nobody"})),
            "patient.reference",
            Missing,
        ),
        (
            objection_with("/performer", json!([])),
            "performer",
            Missing,
        ),
        (
            objection_with(
                "/performer",
                json!([{"reference": "#patient"}, {"reference": "#patient"}]),
            ),
            "performer[1]",
            UnsupportedPerformer,
        ),
        (objection_with("/category", json!([])), "category", Missing),
    ];
    for (resource, path, kind) in cases {
        assert_eq!(
            rejection_of(&resource),
            (path.to_owned(), kind),
            "{resource}"
        );
    }
}

#[test]
fn a_permission_needs_one_recipient_organisation_with_a_valid_ods_code() {
    use RejectionKind::*;
    let permission =
        |pointer: &str, value: Value| set(fixture("nhs/permission-to-view.json"), pointer, value);
    let actor = "/provision/actor";
    let cases = [
        (permission(actor, json!([])), "provision.actor", Missing),
        (
            permission("/provision/actor/0/role/coding/0/code", json!("CST")),
            "provision.actor[0].role",
            UnsupportedActor,
        ),
        (
            permission(
                "/provision/actor/0/reference/identifier/value",
                json!("rkb!"),
            ),
            "provision.actor[0].reference",
            InvalidOdsCode,
        ),
        (
            permission("/provision/purpose/0/code", json!("HOPERAT")),
            "provision.purpose[0]",
            UnsupportedPurpose,
        ),
        (
            permission("/provision/period", json!(null)),
            "provision.period",
            Missing,
        ),
        (
            permission("/policyRule/coding/0/code", json!("OPTOUT")),
            "policyRule",
            UnsupportedPolicyRule,
        ),
    ];
    for (resource, path, kind) in cases {
        assert_eq!(
            rejection_of(&resource),
            (path.to_owned(), kind),
            "{resource}"
        );
    }
    let mut two = fixture("nhs/permission-to-view.json");
    let first = two["provision"]["actor"][0].clone();
    two["provision"]["actor"] = json!([first.clone(), first]);
    assert_eq!(
        rejection_of(&two),
        ("provision.actor[1]".to_owned(), UnsupportedActor)
    );
}

/// The JSON pointer of every element under `value`.
fn pointers(value: &Value, at: &str, found: &mut Vec<String>) {
    let children: Vec<(String, &Value)> = match value {
        Value::Object(object) => object.iter().map(|(k, v)| (k.clone(), v)).collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect(),
        _ => return,
    };
    for (key, child) in children {
        let pointer = format!("{at}/{key}");
        found.push(pointer.clone());
        pointers(child, &pointer, found);
    }
}

/// `resource` without the element at `pointer`.
fn without(mut resource: Value, pointer: &str) -> Value {
    let (parent, key) = pointer.rsplit_once('/').expect("a JSON pointer");
    match resource.pointer_mut(parent).expect("parent") {
        Value::Object(object) => {
            object.remove(key);
        }
        Value::Array(items) => {
            items.remove(key.parse::<usize>().expect("an index"));
        }
        _ => unreachable!("pointers only name children of objects and arrays"),
    }
    resource
}

#[test]
fn leaving_out_any_element_never_changes_what_is_recorded() {
    // Taking information away may make a Consent unimportable, but must
    // never turn it into a different decision, patient or submitter.
    for name in [
        "nhs/objection-by-patient.json",
        "nhs/objection-by-attorney.json",
        "nhs/objection-secondary-use.json",
        "nhs/permission-to-view.json",
    ] {
        let resource = fixture(name);
        let whole = plan(&resource).expect(name);
        let mut found = Vec::new();
        pointers(&resource, "", &mut found);
        for pointer in found {
            if let Ok(partial) = plan(&without(resource.clone(), &pointer)) {
                assert_eq!(
                    (&partial.change, &partial.nhs_number, &partial.submitter),
                    (&whole.change, &whole.nhs_number, &whole.submitter),
                    "{name} without {pointer}"
                );
                assert_ne!(
                    partial.request_id, whole.request_id,
                    "{name} without {pointer}"
                );
            }
        }
    }
}

#[test]
fn a_modifier_anywhere_in_the_resource_is_rejected_at_its_path() {
    use RejectionKind::*;
    let x = json!([{"url": "https://example.org/fhir/StructureDefinition/not-really"}]);
    let permission =
        |pointer: &str, value: Value| set(fixture("nhs/permission-to-view.json"), pointer, value);
    let cases = [
        (
            objection_with("/implicitRules", json!("https://example.org/rules")),
            "implicitRules",
            ImplicitRules,
        ),
        (
            objection_with("/contained/0/modifierExtension", x.clone()),
            "contained[0].modifierExtension",
            ModifierExtension,
        ),
        (
            objection_with("/contained/0/implicitRules", json!("https://example.org/r")),
            "contained[0].implicitRules",
            ImplicitRules,
        ),
        (
            objection_with(
                "/policy",
                json!([{"uri": "https://example.org/policy", "modifierExtension": x}]),
            ),
            "policy[0].modifierExtension",
            ModifierExtension,
        ),
        (
            objection_with(
                "/verification",
                json!([{"verified": true, "modifierExtension": x}]),
            ),
            "verification[0].modifierExtension",
            ModifierExtension,
        ),
        (
            permission("/provision/actor/0/modifierExtension", x.clone()),
            "provision.actor[0].modifierExtension",
            ModifierExtension,
        ),
        (
            permission("/provision/period/modifierExtension", x.clone()),
            "provision.period.modifierExtension",
            ModifierExtension,
        ),
    ];
    for (resource, path, kind) in cases {
        assert_eq!(
            rejection_of(&resource),
            (path.to_owned(), kind),
            "{resource}"
        );
    }
}

#[test]
fn the_purpose_at_fault_is_named() {
    let code = |code: &str| json!({"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": code});
    let permission = |purposes: Value| {
        set(
            fixture("nhs/permission-to-view.json"),
            "/provision/purpose",
            purposes,
        )
    };
    let objection = |purposes: Value| objection_with("/provision/purpose", purposes);
    let cases = [
        // The first unsupported entry, wherever it is.
        (
            permission(json!([code("TREAT"), code("HRESCH")])),
            "provision.purpose[1]",
            "HRESCH",
        ),
        (
            objection(json!([code("TREAT"), code("ETREAT")])),
            "provision.purpose[1]",
            "ETREAT",
        ),
        (
            objection(json!([code("ETREAT"), code("TREAT")])),
            "provision.purpose[0]",
            "ETREAT",
        ),
        // Supported entries, but more than one.
        (
            permission(json!([code("TREAT"), code("TREAT")])),
            "provision.purpose[1]",
            "more than one purpose",
        ),
        (
            objection(json!([code("TREAT"), code("HOPERAT")])),
            "provision.purpose[1]",
            "more than one purpose",
        ),
    ];
    for (resource, path, named) in cases {
        let rejection = plan(&resource).unwrap_err();
        assert_eq!(
            (rejection.path.as_str(), rejection.kind),
            (path, RejectionKind::UnsupportedPurpose),
            "{resource}"
        );
        assert!(rejection.detail.contains(named), "{rejection}");
    }
}

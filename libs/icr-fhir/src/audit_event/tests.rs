use icr_proto::Timestamp;
use icr_proto::pb::{AccessMode, DecisionRecord, Purpose, RecordSection};
use serde_json::Value;

use super::*;

fn source() -> AuditSource {
    AuditSource::new(Identifier::unqualified("icr-consent.cw.example"))
}

#[allow(
    clippy::needless_update,
    reason = "DecisionRecord only ever gains fields; this stays valid when it does"
)]
fn allowed() -> DecisionRecord {
    DecisionRecord {
        audit_position: 7,
        decision_id: "01J0Z5Q8K3M4N5P6Q7R8S9T0V1".to_owned(),
        recorded_at: Some(Timestamp {
            seconds: 1_767_225_600,
            nanos: 0,
        }),
        calling_system: "icr-portal".to_owned(),
        user_id: "555000111222".to_owned(),
        role_code: "R8000".to_owned(),
        organisation_ods: "RKB".to_owned(),
        nhs_number: "9434765919".to_owned(),
        section: RecordSection::Medications as i32,
        purpose: Purpose::DirectCare as i32,
        access_mode: AccessMode::Normal as i32,
        access_reason: String::new(),
        source_organisation_ods: String::new(),
        allowed: true,
        reason: "role_permits_section".to_owned(),
        obligations: vec![],
        log_position: 42,
        chain_hash: vec![0x0a, 0xff],
        review_due_by: None,
        ..Default::default()
    }
}

fn denied() -> DecisionRecord {
    DecisionRecord {
        allowed: false,
        reason: "objection_active".to_owned(),
        ..allowed()
    }
}

fn break_glass() -> DecisionRecord {
    DecisionRecord {
        access_mode: AccessMode::BreakGlass as i32,
        access_reason: "unconscious in A&E".to_owned(),
        obligations: vec!["display_break_glass_banner".to_owned(), "review".to_owned()],
        review_due_by: Some(Timestamp {
            seconds: 1_767_830_400,
            nanos: 0,
        }),
        ..allowed()
    }
}

/// The event as an integrator sees it: serialised and parsed back.
fn json(record: &DecisionRecord) -> Value {
    let event = audit_event(record, &source()).expect("converts");
    let text = serde_json::to_string(&event).expect("serialises");
    serde_json::from_str(&text).expect("parses")
}

/// Every element R4 requires of an AuditEvent is present and well-formed.
fn assert_r4_required_elements(event: &Value) {
    assert!(event.is_object());
    assert_eq!(event["resourceType"], "AuditEvent");
    assert!(event["type"]["system"].is_string());
    assert!(event["type"]["code"].is_string());
    let recorded = event["recorded"].as_str().expect("recorded is a string");
    // jiff parses a Timestamp only when the text carries an offset.
    let _: jiff::Timestamp = recorded
        .parse()
        .expect("recorded is an instant with offset");
    assert!(recorded.ends_with('Z'));
    let agents = event["agent"].as_array().expect("agent is an array");
    assert!(!agents.is_empty());
    for agent in agents {
        assert!(agent["requestor"].is_boolean(), "{agent}");
    }
    assert!(event["source"]["observer"].is_object());
    assert!(
        !event["source"]["observer"]
            .as_object()
            .expect("object")
            .is_empty()
    );
}

fn purpose_codes(event: &Value) -> Vec<String> {
    event["purposeOfEvent"]
        .as_array()
        .map(|purposes| {
            purposes
                .iter()
                .map(|p| p["coding"][0]["code"].as_str().expect("code").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn details(entity: &Value) -> Vec<(String, String)> {
    entity["detail"]
        .as_array()
        .expect("details")
        .iter()
        .map(|d| {
            let name = d["type"].as_str().expect("type").to_owned();
            (name, d["valueString"].as_str().expect("value").to_owned())
        })
        .collect()
}

#[test]
fn allow_deny_and_break_glass_carry_every_required_element() {
    for record in [allowed(), denied(), break_glass()] {
        assert_r4_required_elements(&json(&record));
    }
}

#[test]
fn it_is_a_balp_consent_authorization_decision() {
    let event = json(&allowed());
    assert_eq!(event["id"], "01J0Z5Q8K3M4N5P6Q7R8S9T0V1");
    assert_eq!(event["type"]["system"], codes::DICOM);
    assert_eq!(event["type"]["code"], "110113");
    assert_eq!(event["subtype"][0]["code"], "AuthZ-Consent");
    assert_eq!(event["action"], "E");
    assert_eq!(event["recorded"], "2026-01-01T00:00:00Z");
}

#[test]
fn the_patient_entity_carries_the_nhs_number_and_section() {
    let event = json(&allowed());
    let patient = &event["entity"][0];
    assert_eq!(patient["what"]["identifier"]["system"], codes::NHS_NUMBER);
    assert_eq!(patient["what"]["identifier"]["value"], "9434765919");
    assert_eq!(patient["type"]["code"], "1");
    assert_eq!(patient["role"]["code"], "1");
    assert_eq!(
        details(patient),
        [("record-section".to_owned(), "medications".to_owned())]
    );
}

#[test]
fn allow_and_deny_have_different_outcomes() {
    let allow = json(&allowed());
    let deny = json(&denied());
    assert_eq!(allow["outcome"], "0");
    assert_eq!(deny["outcome"], "4");
}

#[test]
fn the_description_tells_a_view_from_a_refused_attempt() {
    assert_eq!(
        json(&allowed())["outcomeDesc"],
        "viewed: the record section was released to the requester (role_permits_section)"
    );
    assert_eq!(
        json(&denied())["outcomeDesc"],
        "refused attempt: nothing was shown (objection_active)"
    );
    let undecided = DecisionRecord {
        reason: "policy_unavailable".to_owned(),
        ..denied()
    };
    assert_eq!(
        json(&undecided)["outcomeDesc"],
        "refused attempt: the service could not decide, so nothing was shown (policy_unavailable)"
    );
}

#[test]
fn the_reason_code_is_its_own_detail_for_machines() {
    let reason = |record: &DecisionRecord| {
        details(&json(record)["entity"][1])
            .into_iter()
            .filter(|(name, _)| name == "decision-reason")
            .map(|(_, value)| value)
            .collect::<Vec<_>>()
    };
    assert_eq!(reason(&denied()), ["objection_active"]);
    assert_eq!(reason(&allowed()), ["role_permits_section"]);
    let undecided = DecisionRecord {
        reason: "policy_unavailable".to_owned(),
        ..denied()
    };
    assert_eq!(reason(&undecided), ["policy_unavailable"]);
    let unexplained = DecisionRecord {
        reason: String::new(),
        ..denied()
    };
    assert!(reason(&unexplained).is_empty());
}

#[test]
fn a_deny_without_evaluation_is_a_serious_failure() {
    for reason in [
        "evaluation_failed",
        "evaluation_panicked",
        "policy_unavailable",
    ] {
        let record = DecisionRecord {
            reason: reason.to_owned(),
            ..denied()
        };
        assert_eq!(json(&record)["outcome"], "8", "{reason}");
    }
}

#[test]
fn break_glass_adds_btg_to_the_purpose() {
    assert_eq!(purpose_codes(&json(&allowed())), ["TREAT"]);
    assert_eq!(purpose_codes(&json(&break_glass())), ["TREAT", "BTG"]);
    let self_claimed = DecisionRecord {
        access_mode: AccessMode::SelfClaimedRelationship as i32,
        ..allowed()
    };
    assert_eq!(purpose_codes(&json(&self_claimed)), ["TREAT"]);
}

#[test]
fn secondary_use_is_healthcare_operations() {
    let record = DecisionRecord {
        purpose: Purpose::SecondaryUse as i32,
        ..allowed()
    };
    assert_eq!(purpose_codes(&json(&record)), ["HOPERAT"]);
}

#[test]
fn the_user_is_the_only_requestor_and_carries_the_job_role() {
    let event = json(&allowed());
    let agents = event["agent"].as_array().expect("agents");
    let requestors: Vec<_> = agents.iter().filter(|a| a["requestor"] == true).collect();
    assert_eq!(requestors.len(), 1);
    let user = requestors[0];
    assert_eq!(user["type"]["coding"][0]["code"], "IRCP");
    assert_eq!(user["who"]["identifier"]["value"], "555000111222");
    assert!(user["who"]["identifier"].get("system").is_none());
    assert_eq!(
        user["role"][0]["coding"][0]["system"],
        codes::SDS_JOB_ROLE_NAME
    );
    assert_eq!(user["role"][0]["coding"][0]["code"], "R8000");
    let org = &agents[2];
    assert_eq!(
        org["who"]["identifier"]["system"],
        codes::ODS_ORGANISATION_CODE
    );
    assert_eq!(org["who"]["identifier"]["value"], "RKB");
    assert_eq!(agents[0]["who"]["identifier"]["value"], "icr-portal");
    assert_eq!(agents[3]["who"], event["source"]["observer"]);
}

#[test]
fn a_deployment_names_itself_and_its_user_id_system() {
    let source = AuditSource {
        site: Some("cw-prod-1".to_owned()),
        user_id_system: Some(codes::SDS_USER_ID.to_owned()),
        ..AuditSource::new(codes::ods_code("QWU"))
    };
    let event = audit_event(&allowed(), &source).expect("converts");
    assert_eq!(event.source.site.as_deref(), Some("cw-prod-1"));
    let observer = event
        .source
        .observer
        .identifier
        .as_ref()
        .expect("identifier");
    assert_eq!(observer.value, "QWU");
    assert_eq!(
        event.source.observer.display.as_deref(),
        Some("ICR consent service")
    );
    let user = event.agent[1]
        .who
        .as_ref()
        .and_then(|w| w.identifier.as_ref());
    assert_eq!(
        user.and_then(|i| i.system.as_deref()),
        Some(codes::SDS_USER_ID)
    );
}

#[test]
fn the_consent_entity_carries_the_decisions_facts() {
    let event = json(&break_glass());
    let consent = &event["entity"][1];
    assert_eq!(consent["type"]["code"], "Consent");
    let pairs = details(consent);
    let has = |name: &str, value: &str| pairs.contains(&(name.to_owned(), value.to_owned()));
    assert!(has("decision-reason", "role_permits_section"));
    assert!(has("log-position", "42"));
    assert!(has("access-mode", "break_glass"));
    assert!(has("access-reason", "unconscious in A&E"));
    assert!(has("obligation", "display_break_glass_banner"));
    assert!(has("obligation", "review"));
    assert!(has("review-due-by", "2026-01-08T00:00:00Z"));
    assert!(has("audit-position", "7"));
    assert!(has("chain-hash", "0aff"));
}

#[test]
fn the_event_reads_back_into_the_same_struct() {
    let event = audit_event(&break_glass(), &source()).expect("converts");
    let text = serde_json::to_string(&event).expect("serialises");
    let back: AuditEvent = serde_json::from_str(&text).expect("deserialises");
    assert_eq!(back, event);
}

#[test]
fn records_that_cannot_be_faithful_are_refused() {
    let no_time = DecisionRecord {
        recorded_at: None,
        ..allowed()
    };
    let bad_id = DecisionRecord {
        decision_id: "not/a fhir id".to_owned(),
        ..allowed()
    };
    let bad_time = DecisionRecord {
        recorded_at: Some(Timestamp {
            seconds: i64::MAX,
            nanos: 0,
        }),
        ..allowed()
    };
    for record in [no_time, bad_id, bad_time] {
        assert!(matches!(
            audit_event(&record, &source()),
            Err(ExportError::InvalidRecord { .. })
        ));
    }
}

#[test]
fn unknown_enum_values_are_written_as_numbers() {
    let record = DecisionRecord {
        section: 999,
        ..allowed()
    };
    let event = json(&record);
    assert_eq!(details(&event["entity"][0])[0].1, "999");
}

//! Exports of many decision records, read back as an integrator would.

use icr_fhir::model::Identifier;
use icr_fhir::{AuditSource, ExportError, audit_events_bundle, write_ndjson};
use icr_proto::Timestamp;
use icr_proto::pb::{AccessMode, DecisionRecord, Purpose, RecordSection};
use serde_json::Value;

fn source() -> AuditSource {
    AuditSource::new(Identifier::unqualified("icr-consent.cw.example"))
}

fn record(position: u64, allowed: bool, access_mode: AccessMode) -> DecisionRecord {
    DecisionRecord {
        audit_position: position,
        decision_id: format!("01J0Z5Q8K3M4N5P6Q7R8S9T{position:03}"),
        recorded_at: Some(Timestamp {
            seconds: 1_767_225_600 + position as i64,
            nanos: 0,
        }),
        calling_system: "icr-portal".to_owned(),
        user_id: "555000111222".to_owned(),
        role_code: "R8000".to_owned(),
        organisation_ods: "RKB".to_owned(),
        nhs_number: "9434765919".to_owned(),
        section: RecordSection::Allergies as i32,
        purpose: Purpose::DirectCare as i32,
        access_mode: access_mode as i32,
        allowed,
        reason: if allowed {
            "role_permits_section"
        } else {
            "no_care_relationship"
        }
        .to_owned(),
        log_position: 10,
        ..Default::default()
    }
}

fn records() -> Vec<DecisionRecord> {
    vec![
        record(1, true, AccessMode::Normal),
        record(2, false, AccessMode::Normal),
        record(3, true, AccessMode::BreakGlass),
    ]
}

#[test]
fn a_bundle_is_a_collection_of_the_events_in_order() {
    let bundle = audit_events_bundle(&records(), &source()).expect("converts");
    let json: Value =
        serde_json::from_str(&serde_json::to_string(&bundle).expect("JSON")).expect("parses");
    assert_eq!(json["resourceType"], "Bundle");
    assert_eq!(json["type"], "collection");
    let entries = json["entry"].as_array().expect("entries");
    assert_eq!(entries.len(), 3);
    for (entry, expected) in entries.iter().zip(records()) {
        assert_eq!(entry["resource"]["resourceType"], "AuditEvent");
        assert_eq!(entry["resource"]["id"], expected.decision_id.as_str());
    }
}

#[test]
fn ndjson_has_one_audit_event_object_per_line() {
    let mut out = Vec::new();
    let written = write_ndjson(&records(), &source(), &mut out).expect("writes");
    assert_eq!(written, 3);
    let text = String::from_utf8(out).expect("UTF-8");
    assert!(text.ends_with('\n'));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    let outcomes: Vec<Value> = lines
        .iter()
        .map(|line| {
            let event: Value = serde_json::from_str(line).expect("each line parses alone");
            assert!(event.is_object());
            assert_eq!(event["resourceType"], "AuditEvent");
            event["outcome"].clone()
        })
        .collect();
    assert_eq!(outcomes, ["0", "4", "0"]);
}

#[test]
fn an_empty_export_is_empty() {
    let mut out = Vec::new();
    assert_eq!(write_ndjson(&[], &source(), &mut out).expect("writes"), 0);
    assert!(out.is_empty());
    let bundle = audit_events_bundle(&[], &source()).expect("converts");
    let json = serde_json::to_value(&bundle).expect("JSON");
    assert_eq!(
        json,
        serde_json::json!({ "resourceType": "Bundle", "type": "collection" })
    );
}

#[test]
fn a_bad_record_stops_the_export_after_the_lines_before_it() {
    let mut all = records();
    all[1].recorded_at = None;
    let mut out = Vec::new();
    let result = write_ndjson(&all, &source(), &mut out);
    assert!(matches!(result, Err(ExportError::InvalidRecord { .. })));
    assert_eq!(String::from_utf8(out).expect("UTF-8").lines().count(), 1);
    assert!(audit_events_bundle(&all, &source()).is_err());
}

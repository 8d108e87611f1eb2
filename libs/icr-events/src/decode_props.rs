//! Property tests: whatever bytes or field values an event holds, decoding,
//! folding, deciding and summarising never panic; every state the fold can reach passes
//! the checks a snapshot is read back with (`Unchecked` → `Patient`); and
//! arbitrary bytes never read back as a patient. Validators name the field
//! they were given.
//!
//! Cases: 256 per property by default; `PROPTEST_CASES` sets the number
//! (`scripts/proptest-long.sh` runs 100,000).

use icr_proto::pb::{EventPayload, RecordedEvent};
use jiff::Timestamp;
use proptest::prelude::*;
use prost::Message;

use crate::arbitrary::{enum_value, payload, text};
use crate::codes::{
    care_relationship_kind, consent_model, identifier, iso_date, objection_scope, ods_code,
    power_of_attorney_kind, purpose, region_code, role_code, section,
};
use crate::{Patient, StreamId, event_type};

/// Any instant jiff can hold.
fn instant() -> impl Strategy<Value = Timestamp> {
    let (min, max) = (Timestamp::MIN.as_second(), Timestamp::MAX.as_second());
    (min..=max).prop_map(|s| Timestamp::from_second(s).unwrap_or(Timestamp::UNIX_EPOCH))
}

/// Everything this crate does with a payload read from the log.
fn use_payload(patient: &mut Patient, position: u64, payload: &EventPayload, now: Timestamp) {
    let _ = event_type(payload);
    let _ = StreamId::of(payload).map(|s| s.to_string());
    let _ = patient.decide(payload, now);
    patient.apply(position, payload);
    let _ = patient.sources();
}

/// A valid encoding with one byte changed and cut short, as damage might.
fn damaged(bytes: &mut Vec<u8>, at: usize, flip: u8, keep: usize) {
    if !bytes.is_empty() {
        let at = at % bytes.len();
        bytes[at] ^= flip;
    }
    bytes.truncate(keep);
}

proptest! {
    #[test]
    fn arbitrary_bytes_decode_to_an_event_or_an_error_never_a_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..512),
        now in instant(),
    ) {
        let mut patient = Patient::default();
        if let Ok(payload) = EventPayload::decode(bytes.as_slice()) {
            use_payload(&mut patient, 1, &payload, now);
        }
        if let Ok(event) = RecordedEvent::decode(bytes.as_slice()) {
            let payload = event.payload.unwrap_or_default();
            use_payload(&mut patient, event.position, &payload, now);
        }
    }

    #[test]
    fn damaged_encodings_of_events_never_panic(
        payload in payload(),
        (at, flip, keep) in (any::<usize>(), 1u8..=255, 0usize..4096),
        now in instant(),
    ) {
        let mut bytes = payload.encode_to_vec();
        damaged(&mut bytes, at, flip, keep);
        if let Ok(payload) = EventPayload::decode(bytes.as_slice()) {
            use_payload(&mut Patient::default(), 1, &payload, now);
        }
    }

    #[test]
    fn every_readable_event_has_a_summary_whatever_its_fields(payload in payload()) {
        // Words for the `events` table, never a panic; only a payload this
        // build cannot read has none.
        let summary = crate::summary(&payload);
        prop_assert_eq!(summary.is_some(), payload.kind.is_some());
        prop_assert!(summary.is_none_or(|line| !line.is_empty()));
    }

    #[test]
    fn every_state_the_fold_reaches_reads_back_from_a_snapshot(
        history in prop::collection::vec(payload(), 0..40),
        proposed in payload(),
        now in instant(),
    ) {
        let mut patient = Patient::default();
        for (i, payload) in history.iter().enumerate() {
            use_payload(&mut patient, i as u64 + 1, payload, now);
            let bytes = postcard::to_allocvec(&patient).expect("encodes");
            let read: Result<Patient, _> = postcard::from_bytes(&bytes);
            prop_assert_eq!(read.as_ref(), Ok(&patient), "after {} events", i + 1);
        }
        let _ = patient.decide(&proposed, now);
    }

    #[test]
    fn arbitrary_bytes_never_read_back_as_a_patient_that_breaks_the_rules(
        bytes in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        if let Ok(patient) = postcard::from_bytes::<Patient>(&bytes) {
            // What was accepted is a state the checks accept again.
            let again = postcard::to_allocvec(&patient).expect("encodes");
            prop_assert_eq!(postcard::from_bytes::<Patient>(&again), Ok(patient));
        }
    }

    #[test]
    fn damaged_snapshots_of_a_patient_never_panic(
        history in prop::collection::vec(payload(), 0..20),
        (at, flip, keep) in (any::<usize>(), 1u8..=255, 0usize..2048),
    ) {
        let patient = Patient::from_events(
            history.iter().enumerate().map(|(i, p)| (i as u64 + 1, p)),
        );
        let mut bytes = postcard::to_allocvec(&patient).expect("encodes");
        damaged(&mut bytes, at, flip, keep);
        if let Ok(read) = postcard::from_bytes::<Patient>(&bytes) {
            let again = postcard::to_allocvec(&read).expect("encodes");
            prop_assert_eq!(postcard::from_bytes::<Patient>(&again), Ok(read));
        }
    }

    #[test]
    fn every_validator_names_the_field_it_was_given(
        field in "[a-z_.]{1,20}(\\[[0-9]{1,3}\\])?",
        value in text(&["RKB", "R8000", "1970-01-01", "dr-1", ""]),
        number in enum_value(),
        max in 0usize..300,
    ) {
        let field = field.as_str();
        let checks: [Result<(), crate::FieldError>; 11] = [
            identifier(field, &value, max),
            ods_code(field, &value).map(drop),
            role_code(field, &value),
            region_code(field, &value),
            iso_date(field, &value).map(drop),
            section(field, number).map(drop),
            purpose(field, number).map(drop),
            objection_scope(field, number).map(drop),
            power_of_attorney_kind(field, number).map(drop),
            care_relationship_kind(field, number).map(drop),
            consent_model(field, number).map(drop),
        ];
        for error in checks.into_iter().filter_map(Result::err) {
            prop_assert_eq!(error.field.as_str(), field);
            prop_assert!(!error.message.is_empty());
            prop_assert!(error.message.len() < 200, "{}", error.message);
        }
    }
}

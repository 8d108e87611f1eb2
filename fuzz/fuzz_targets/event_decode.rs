//! Arbitrary bytes read as a stored event (and as a bare payload), then
//! everything the domain does with an event read from the log: its type
//! and stream, the patient fold, and a decision against the folded state.
//! Any panic is a bug: the log may hold bytes written by another version,
//! or damaged ones.
#![no_main]

use icr_events::{Patient, StreamId, event_type};
use icr_proto::pb::{EventPayload, RecordedEvent};
use libfuzzer_sys::fuzz_target;
use prost::Message;

fn use_payload(patient: &mut Patient, position: u64, payload: &EventPayload) {
    let _ = event_type(payload);
    let _ = StreamId::of(payload).map(|s| s.to_string());
    let _ = patient.decide(payload, jiff::Timestamp::UNIX_EPOCH);
    patient.apply(position, payload);
    let _ = patient.sources();
}

fuzz_target!(|data: &[u8]| {
    let mut patient = Patient::default();
    if let Ok(event) = RecordedEvent::decode(data) {
        let payload = event.payload.unwrap_or_default();
        use_payload(&mut patient, event.position, &payload);
    }
    if let Ok(payload) = EventPayload::decode(data) {
        use_payload(&mut patient, 2, &payload);
        // The same event again: a repeat must fold as calmly as the first.
        use_payload(&mut patient, 3, &payload);
    }
});

//! Log events as proto3 canonical JSON, one per NDJSON line.
//!
//! The JSON is the protobuf JSON mapping
//! (<https://protobuf.dev/programming-guides/json/>), produced by
//! prost-reflect from the API's own descriptor set rather than by hand, so
//! a field added to the `.proto` files is exported without a change here,
//! and any proto3 JSON library reads the lines back. As the mapping says:
//! field names are lowerCamelCase (`streamVersion`), 64-bit integers are
//! strings (`"position": "42"`), enums are their names, bytes are base64
//! (`chainHash`), timestamps are RFC 3339 (`recordedAt`), the payload's
//! `oneof` appears as the one field set (`"payload": {"objectionRecorded":
//! {...}}`), and fields at their default value are left out.
//!
//! Why not `pbjson`: its generated serde code needs the well-known types to
//! implement serde, which means replacing `prost_types::Timestamp` with
//! `pbjson_types::Timestamp` in every generated message, and every crate
//! that builds messages would have to change. prost-reflect needs nothing
//! from `icr-proto` but the descriptor set it already exports.

use std::io::Write;
use std::sync::LazyLock;

use icr_proto::pb::RecordedEvent;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor};

use crate::ExportError;

/// Full protobuf name of the stored event message.
const RECORDED_EVENT: &str = "icr.consent.v1.RecordedEvent";

/// The `RecordedEvent` descriptor, decoded once from the descriptor set
/// compiled into `icr-proto`. It can only fail if that build is broken.
static DESCRIPTOR: LazyLock<Result<MessageDescriptor, String>> = LazyLock::new(|| {
    let pool = DescriptorPool::decode(icr_proto::FILE_DESCRIPTOR_SET)
        .map_err(|e| format!("the API descriptor set does not load: {e}"))?;
    pool.get_message_by_name(RECORDED_EVENT)
        .ok_or_else(|| format!("{RECORDED_EVENT} is not in the API descriptor set"))
});

fn descriptor() -> Result<MessageDescriptor, ExportError> {
    DESCRIPTOR.clone().map_err(ExportError::EventJson)
}

/// One event as a single line of proto3 canonical JSON (no newline).
pub fn event_ndjson_line(event: &RecordedEvent) -> Result<String, ExportError> {
    let mut message = DynamicMessage::new(descriptor()?);
    message
        .transcode_from(event)
        .map_err(|e| ExportError::EventJson(e.to_string()))?;
    Ok(serde_json::to_string(&message)?)
}

/// Reads back a line written by [`event_ndjson_line`] (or by any proto3 JSON
/// writer). Unknown fields are refused, as the JSON mapping asks by default:
/// a line from a newer schema fails rather than losing data silently.
pub fn event_from_ndjson_line(line: &str) -> Result<RecordedEvent, ExportError> {
    let mut json = serde_json::Deserializer::from_str(line);
    let message = DynamicMessage::deserialize(descriptor()?, &mut json)
        .map_err(|e| ExportError::EventJson(e.to_string()))?;
    json.end()
        .map_err(|e| ExportError::EventJson(e.to_string()))?;
    message
        .transcode_to()
        .map_err(|e| ExportError::EventJson(e.to_string()))
}

/// Writes one event per line and returns how many lines were written.
pub fn write_events_ndjson<'a>(
    events: impl IntoIterator<Item = &'a RecordedEvent>,
    mut out: impl Write,
) -> Result<u64, ExportError> {
    let mut lines = 0;
    for event in events {
        let line = event_ndjson_line(event)?;
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")?;
        lines += 1;
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use icr_proto::Timestamp;
    use icr_proto::pb::{Actor, EventPayload, ObjectionRecorded, ObjectionScope, event_payload};

    use super::*;

    #[allow(
        clippy::needless_update,
        reason = "RecordedEvent only ever gains fields; this stays valid when it does"
    )]
    fn objection_recorded() -> RecordedEvent {
        RecordedEvent {
            id: "01J0Z5Q8K3M4N5P6Q7R8S9T0V1".to_owned(),
            position: 42,
            stream: "patient/9434765919".to_owned(),
            stream_version: 3,
            recorded_at: Some(Timestamp {
                seconds: 1_767_225_600,
                nanos: 123_000_000,
            }),
            actor: Some(Actor {
                calling_system: "icr-portal".to_owned(),
                user_id: "attorney-7".to_owned(),
                on_behalf_of: "9434765919".to_owned(),
            }),
            event_type: "ObjectionRecorded".to_owned(),
            schema_version: 1,
            request_id: "req-1".to_owned(),
            payload: Some(EventPayload {
                kind: Some(event_payload::Kind::ObjectionRecorded(ObjectionRecorded {
                    nhs_number: "9434765919".to_owned(),
                    scope: ObjectionScope::DirectCare as i32,
                    attorney_id: "attorney-7".to_owned(),
                })),
            }),
            chain_hash: vec![0xde, 0xad, 0xbe, 0xef],
            ..Default::default()
        }
    }

    #[test]
    fn an_objection_round_trips_through_its_ndjson_line() {
        let event = objection_recorded();
        let line = event_ndjson_line(&event).expect("exports");
        assert!(!line.contains('\n'));
        assert_eq!(event_from_ndjson_line(&line).expect("reads back"), event);
    }

    #[test]
    fn the_line_is_canonical_proto3_json() {
        let line = event_ndjson_line(&objection_recorded()).expect("exports");
        let json: serde_json::Value = serde_json::from_str(&line).expect("JSON");
        assert_eq!(json["position"], "42");
        assert_eq!(json["streamVersion"], "3");
        assert_eq!(json["recordedAt"], "2026-01-01T00:00:00.123Z");
        assert_eq!(json["eventType"], "ObjectionRecorded");
        assert_eq!(json["chainHash"], "3q2+7w==");
        let objection = &json["payload"]["objectionRecorded"];
        assert_eq!(objection["scope"], "OBJECTION_SCOPE_DIRECT_CARE");
        assert_eq!(objection["nhsNumber"], "9434765919");
    }

    #[test]
    fn unknown_fields_and_trailing_data_are_refused() {
        assert!(event_from_ndjson_line(r#"{"id":"x","surprise":1}"#).is_err());
        assert!(event_from_ndjson_line(r#"{"id":"x"} {"id":"y"}"#).is_err());
    }

    #[test]
    fn events_are_written_one_per_line() {
        let events = [objection_recorded(), objection_recorded()];
        let mut out = Vec::new();
        assert_eq!(write_events_ndjson(&events, &mut out).expect("writes"), 2);
        let text = String::from_utf8(out).expect("UTF-8");
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        for line in lines {
            assert_eq!(event_from_ndjson_line(line).expect("reads"), events[0]);
        }
    }
}

//! `events`: the log, in order, for auditors: who did what, when, through
//! which system, and on whose behalf.

mod summary;

use anyhow::Result;
use clap::Args;
use icr_proto::pb::audit_service_client::AuditServiceClient;
use icr_proto::pb::{ReadEventsRequest, RecordedEvent};
use serde_json::{Value, json};
use tonic::transport::Channel;

use crate::caller::Caller;
use crate::dates;
use crate::failure::CallContext;
use crate::output::{self, Output};

pub(crate) use summary::summarise;

/// Arguments of `events`.
#[derive(Args, Debug, Clone)]
pub(crate) struct EventsArgs {
    /// First log position to show (positions start at 1).
    #[arg(long = "from", value_name = "POSITION", default_value_t = 1)]
    pub(crate) from_position: u64,
    /// Show at most this many events; 0 means up to the head of the log as
    /// it was when the command started.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub(crate) limit: u64,
}

/// Columns of the events table; the JSON lines carry these and more.
const EVENT_FIELDS: &[&str] = &[
    "position",
    "recorded_at",
    "stream",
    "stream_version",
    "event_type",
    "actor",
    "summary",
];

/// Streams events from the log to `on_event`, in log order, and returns how
/// many arrived. Events handed over before a failure stay handed over.
pub(crate) async fn read_events(
    channel: Channel,
    caller: &Caller,
    args: &EventsArgs,
    mut on_event: impl FnMut(RecordedEvent) -> Result<()>,
) -> Result<u64> {
    let request = ReadEventsRequest {
        from_position: args.from_position,
        limit: args.limit,
        ..Default::default()
    };
    let call = CallContext::read();
    let mut stream = AuditServiceClient::new(channel)
        .read_events(caller.request(request))
        .await
        .map_err(|status| call.rejected(status))?
        .into_inner();
    let mut count = 0;
    while let Some(response) = stream
        .message()
        .await
        .map_err(|status| call.rejected(status))?
    {
        if let Some(event) = response.event {
            on_event(event)?;
            count += 1;
        }
    }
    Ok(count)
}

/// Runs `events`. JSON lines go out as events arrive; a table has to wait
/// for the last row to know its column widths, so for a long log prefer
/// `--json` or a `--limit`.
pub(crate) async fn run(
    channel: Channel,
    caller: &Caller,
    args: &EventsArgs,
    output: Output,
) -> Result<()> {
    if output.is_json() {
        read_events(channel, caller, args, |event| {
            Ok(output::json_line(&event_record(&event))?)
        })
        .await?;
        return Ok(());
    }
    let mut records = Vec::new();
    let read = read_events(channel, caller, args, |event| {
        records.push(event_record(&event));
        Ok(())
    })
    .await;
    // Show what did arrive before reporting a failure part-way through.
    if !records.is_empty() || read.is_ok() {
        output.records(EVENT_FIELDS, &records)?;
    }
    read.map(|_| ())
}

/// One event as a record: the table's columns, plus the actor's parts and
/// the ids a script may want to follow up.
fn event_record(event: &RecordedEvent) -> Value {
    let actor = event.actor.clone().unwrap_or_default();
    let mut who = format!("{}/{}", actor.calling_system, actor.user_id);
    if !actor.on_behalf_of.is_empty() {
        who.push_str(" on behalf of ");
        who.push_str(&actor.on_behalf_of);
    }
    json!({
        "position": event.position,
        "recorded_at": dates::format_timestamp(event.recorded_at.as_ref()),
        "stream": event.stream,
        "stream_version": event.stream_version,
        "event_type": event.event_type,
        "schema_version": event.schema_version,
        "actor": who,
        "calling_system": actor.calling_system,
        "user_id": actor.user_id,
        "on_behalf_of": actor.on_behalf_of,
        "summary": summarise(event.payload.as_ref()),
        "event_id": event.id,
        "request_id": event.request_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use icr_proto::pb::event_payload::Kind;
    use icr_proto::pb::{Actor, EventPayload, ObjectionRecorded, ObjectionScope};

    #[test]
    fn an_attorneys_event_says_on_whose_behalf() {
        let event = RecordedEvent {
            id: "01JEVENT".to_owned(),
            position: 7,
            stream: "patient/9434765919".to_owned(),
            stream_version: 2,
            recorded_at: dates::parse_timestamp("2026-01-02T03:04:05Z").ok(),
            actor: Some(Actor {
                calling_system: "nhs-app".to_owned(),
                user_id: "ATT-1".to_owned(),
                on_behalf_of: "9434765919".to_owned(),
            }),
            event_type: "ObjectionRecorded".to_owned(),
            payload: Some(EventPayload {
                kind: Some(Kind::ObjectionRecorded(ObjectionRecorded {
                    nhs_number: "9434765919".to_owned(),
                    scope: ObjectionScope::DirectCare.into(),
                    attorney_id: "ATT-1".to_owned(),
                })),
            }),
            ..Default::default()
        };
        let record = event_record(&event);
        assert_eq!(record["actor"], "nhs-app/ATT-1 on behalf of 9434765919");
        assert_eq!(record["recorded_at"], "2026-01-02T03:04:05Z");
        assert_eq!(
            record["summary"],
            "9434765919 objects to direct_care (by attorney ATT-1)"
        );
    }
}

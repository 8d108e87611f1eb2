//! `events`: the log, in order, for auditors: who did what, when, through
//! which system, and on whose behalf; filtered, live with `--follow`, or
//! exported as proto3 JSON lines with `--ndjson`.

mod summary;

use anyhow::Result;
use clap::Args;
use icr_proto::pb::audit_service_client::AuditServiceClient;
use icr_proto::pb::{ReadEventsRequest, ReadEventsResponse, RecordedEvent};
use serde_json::{Value, json};
use tonic::transport::Channel;

use crate::caller::Caller;
use crate::dates;
use crate::failure::{self, CallContext};
use crate::output::{self, Output};
use crate::progress::{ProgressOptions, ReplayProgress};
use crate::replay::{self, Replayed, RowPrinter, TimeWindow};

pub(crate) use summary::summarise;

/// Arguments of `events`.
#[derive(Args, Debug, Clone)]
pub(crate) struct EventsArgs {
    /// First log position to show (positions start at 1). To resume an
    /// earlier read, give one more than the position it caught up at.
    #[arg(long = "from", value_name = "POSITION", default_value_t = 1)]
    pub(crate) from_position: u64,
    /// Show at most this many events; 0 means every match up to the head
    /// of the log as it was when the command started (or, with --follow,
    /// no limit).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub(crate) limit: u64,
    /// After catching up, keep printing new events as they are recorded,
    /// until Ctrl-C. A table is printed when the replay catches up, then a
    /// row per new event in the same columns; use --json or --ndjson to get
    /// every line as soon as it arrives, however long the catch-up.
    #[arg(long)]
    pub(crate) follow: bool,
    /// Only this stream, e.g. patient/9434765919, organisation/RKB,
    /// role/R8000, region/QWU or review/<decision id>; a bare NHS number
    /// means that patient's stream.
    #[arg(long, value_name = "STREAM", value_parser = stream_name)]
    pub(crate) stream: Option<String>,
    /// Only this patient's events (the stream patient/<NHS_NUMBER>).
    #[arg(long = "nhs", value_name = "NHS_NUMBER", value_parser = crate::codes::nhs_number)]
    pub(crate) nhs_number: Option<String>,
    /// Only events of this type, e.g. ObjectionRecorded (repeated or
    /// comma-separated; the service lists the known types if one is wrong).
    #[arg(long = "type", value_name = "EVENT_TYPE", value_delimiter = ',')]
    pub(crate) event_types: Vec<String>,
    #[command(flatten)]
    pub(crate) window: TimeWindow,
    /// Print each event as one line of proto3 JSON (the protobuf JSON
    /// mapping of RecordedEvent), for export and re-import; takes the place
    /// of the table or --json.
    #[arg(long)]
    pub(crate) ndjson: bool,
    #[command(flatten)]
    pub(crate) progress: ProgressOptions,
}

impl EventsArgs {
    /// The replay request these arguments ask for.
    fn request(&self) -> ReadEventsRequest {
        ReadEventsRequest {
            from_position: self.from_position,
            limit: self.limit,
            follow: self.follow,
            stream: self.stream.clone().unwrap_or_default(),
            nhs_number: self.nhs_number.clone().unwrap_or_default(),
            event_types: self.event_types.clone(),
            from_time: self.window.since,
            to_time: self.window.until,
        }
    }
}

/// The stream `--stream` names: `<kind>/<id>` as given, or a bare NHS
/// number as that patient's stream. Anything else without a `/` names no
/// stream, and would match nothing.
fn stream_name(value: &str) -> Result<String, String> {
    if value.contains('/') {
        return Ok(value.to_owned());
    }
    match value.parse::<icr_events::NhsNumber>() {
        Ok(nhs) => Ok(format!("patient/{nhs}")),
        Err(_) => Err(format!(
            "`{value}` names no stream: a stream is <kind>/<id>, e.g. patient/9434765919, \
             organisation/RKB, role/R8000, region/QWU or review/<decision id> (for one \
             patient, --nhs <NHS_NUMBER> does the same)"
        )),
    }
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

/// Streams the replay `request` asks for to `on_message`, in log order:
/// each event, and the caught-up marker where it comes. Messages handed
/// over before a failure stay handed over.
pub(crate) async fn read_events(
    channel: Channel,
    caller: &Caller,
    request: ReadEventsRequest,
    on_message: impl FnMut(Replayed<RecordedEvent>) -> Result<()>,
) -> Result<()> {
    let call = CallContext::read();
    let follow = request.follow;
    let stream = AuditServiceClient::new(channel)
        .read_events(caller.request(request))
        .await
        .map_err(|status| call.rejected(status))?
        .into_inner();
    replay::drain(stream, call, follow, split, on_message).await
}

/// An event, or the caught-up marker.
fn split(response: ReadEventsResponse) -> Option<Replayed<RecordedEvent>> {
    match (response.event, response.caught_up) {
        (Some(event), _) => Some(Replayed::Item(event)),
        (None, Some(caught_up)) => Some(Replayed::CaughtUp(caught_up.position)),
        (None, None) => None,
    }
}

/// Runs `events`: a table, JSON lines or proto3 JSON lines, with the
/// caught-up marker on stderr.
pub(crate) async fn run(
    channel: Channel,
    caller: &Caller,
    args: &EventsArgs,
    output: Output,
) -> Result<()> {
    // Proto3 JSON lines are printed here; the printer then only notes the
    // catch-up on stderr, as it does for JSON lines.
    let rows = if args.ndjson {
        Output::new(true)
    } else {
        output
    };
    let progress = ReplayProgress::new(&args.progress, "events", args.limit, args.follow);
    let mut printer = RowPrinter::new(rows, EVENT_FIELDS, "events", args.follow, progress);
    let read = read_events(channel, caller, args.request(), |message| match message {
        Replayed::Item(event) if args.ndjson => printer.printed_by(event.position, || {
            icr_fhir::write_events_ndjson([&event], std::io::stdout().lock())
                .map_err(failure::export)?;
            Ok(())
        }),
        Replayed::Item(event) => printer.record(event.position, event_record(&event)),
        Replayed::CaughtUp(position) => printer.caught_up(position),
    })
    .await;
    // Show what did arrive before reporting a failure part-way through.
    printer.finish(read.is_ok())?;
    read
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
        "chain_hash": output::hex(&event.chain_hash),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use icr_proto::pb::event_payload::Kind;
    use icr_proto::pb::{Actor, EventPayload, ObjectionRecorded, ObjectionScope};

    #[test]
    fn a_bare_nhs_number_is_the_patients_stream_and_other_bare_names_are_refused() {
        assert_eq!(
            stream_name("9434765919").as_deref(),
            Ok("patient/9434765919")
        );
        assert_eq!(
            stream_name("organisation/RKB").as_deref(),
            Ok("organisation/RKB")
        );
        assert_eq!(
            stream_name("RKB"),
            Err(
                "`RKB` names no stream: a stream is <kind>/<id>, e.g. patient/9434765919, \
                 organisation/RKB, role/R8000, region/QWU or review/<decision id> (for one \
                 patient, --nhs <NHS_NUMBER> does the same)"
                    .to_owned()
            )
        );
    }

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

//! The state a write is decided against: its stream folded from its events.
//!
//! Folded streams are kept for the streams written recently, so a write
//! reads only the events appended since the last write it folded. A
//! patient's stream grows with every admission, objection and permission;
//! reading all of it on every write made a write cost more the longer the
//! patient had been known (profiled: reading and decoding stream history
//! was half the service's CPU under a steady write load).
//!
//! The kept state is only ever a prefix of the log: it is folded from
//! durable-or-flushing events and extended by reading the stream from its
//! version on, so a stale entry costs a longer read, never a wrong decision.

use icr_events::{CommandError, Membership, Patient, Review, StreamId};
use icr_log::{EventLog, LogError};
use icr_proto::pb::{EventPayload, RecordedEvent};
use quick_cache::sync::Cache;

/// How many streams keep their folded state.
const KEPT_STREAMS: usize = 65_536;

/// One stream folded up to a version.
#[derive(Debug, Clone)]
pub(crate) struct Folded {
    /// The stream version folded so far (0 = no events).
    pub(crate) version: u64,
    state: State,
}

#[derive(Debug, Clone)]
enum State {
    Patient(Box<Patient>),
    Membership(Membership),
    Review(Review),
}

impl Folded {
    fn empty(stream: &StreamId) -> Self {
        let state = match stream {
            StreamId::Patient(_) => State::Patient(Box::default()),
            StreamId::Organisation(_) | StreamId::Role(_) | StreamId::Region(_) => {
                State::Membership(Membership::default())
            }
            StreamId::Review(_) => State::Review(Review::default()),
        };
        Self { version: 0, state }
    }

    fn apply(&mut self, event: &RecordedEvent) {
        self.version = event.stream_version;
        let payload = event.payload.as_ref();
        match &mut self.state {
            State::Patient(patient) => {
                if let Some(payload) = payload {
                    patient.apply(event.position, payload);
                }
            }
            State::Membership(membership) => {
                if let Some(payload) = payload {
                    membership.apply(payload);
                }
            }
            State::Review(review) => review.apply(payload.unwrap_or(&EventPayload::default())),
        }
    }

    /// Checks `proposed` against the folded state.
    pub(crate) fn decide(&self, proposed: &EventPayload) -> Result<(), CommandError> {
        match &self.state {
            State::Patient(patient) => patient.decide(proposed, jiff::Timestamp::now()),
            State::Membership(membership) => membership.decide(proposed),
            State::Review(review) => review.decide(proposed),
        }
    }
}

/// The folded state of recently written streams.
pub(crate) struct Aggregates {
    kept: Cache<String, Folded>,
}

impl Aggregates {
    pub(crate) fn new() -> Self {
        Self {
            kept: Cache::new(KEPT_STREAMS),
        }
    }

    /// Stream `name` (`stream`) folded up to its last event in `log`.
    pub(crate) async fn load<L: EventLog>(
        &self,
        log: &L,
        name: &str,
        stream: &StreamId,
    ) -> Result<Folded, LogError> {
        let mut folded = self.kept.get(name).unwrap_or_else(|| Folded::empty(stream));
        for event in log.read_stream(name, folded.version + 1).await? {
            folded.apply(&event);
        }
        Ok(folded)
    }

    /// Keeps `folded` for the next write to stream `name`.
    pub(crate) fn keep(&self, name: &str, folded: Folded) {
        self.kept.insert(name.to_owned(), folded);
    }
}

#[cfg(test)]
mod tests {
    use icr_log::{AppendRequest, ExpectedVersion, PendingEvent, SledLog};
    use icr_proto::pb::event_payload::Kind;
    use icr_proto::pb::{Actor, ObjectionRecorded, ObjectionWithdrawn};

    use super::*;

    const NHS: &str = "9434765919";

    fn objection(withdrawn: bool) -> EventPayload {
        let kind = if withdrawn {
            Kind::ObjectionWithdrawn(ObjectionWithdrawn {
                nhs_number: NHS.into(),
                scope: 1,
                attorney_id: String::new(),
            })
        } else {
            Kind::ObjectionRecorded(ObjectionRecorded {
                nhs_number: NHS.into(),
                scope: 1,
                attorney_id: String::new(),
            })
        };
        EventPayload { kind: Some(kind) }
    }

    /// Appends straight to the log, as another writer would, without
    /// telling `Aggregates`.
    async fn append(log: &SledLog, request_id: &str, payload: EventPayload) {
        let request = AppendRequest {
            stream: format!("patient/{NHS}"),
            expected_version: ExpectedVersion::Any,
            request_id: request_id.into(),
            fingerprint: request_id.as_bytes().to_vec(),
            events: vec![PendingEvent {
                actor: Actor::default(),
                event_type: "Objection".into(),
                schema_version: 1,
                payload,
            }],
        };
        log.append(request).await.expect("append");
    }

    #[tokio::test]
    async fn kept_state_is_extended_with_every_later_event() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = SledLog::open(dir.path()).expect("open");
        let aggregates = Aggregates::new();
        let name = format!("patient/{NHS}");
        let stream = StreamId::Patient(NHS.parse().expect("valid NHS number"));

        append(&log, "r1", objection(false)).await;
        let folded = aggregates.load(&log, &name, &stream).await.expect("load");
        assert_eq!(folded.version, 1);
        assert!(folded.decide(&objection(true)).is_ok());
        assert!(folded.decide(&objection(false)).is_err());
        aggregates.keep(&name, folded);

        // Written behind the kept state's back: the next load must see it.
        append(&log, "r2", objection(true)).await;
        let folded = aggregates.load(&log, &name, &stream).await.expect("load");
        assert_eq!(folded.version, 2);
        assert!(
            folded.decide(&objection(true)).is_err(),
            "the withdrawal appended after the kept state is folded in"
        );
        assert!(folded.decide(&objection(false)).is_ok());
    }
}

//! The append path: the appends of every waiting caller checked in order
//! and stored as one sled batch (see [`crate::combine`]).
//!
//! Each request is checked as if the ones before it in the batch were
//! already stored: its request id against theirs, its expected version
//! against the version their events gave its stream. A refused request
//! writes nothing and does not stop the others.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use icr_proto::pb::RecordedEvent;
use prost::Message;
use ulid::Generator;

use crate::chain::{Chain, ChainHash, link};
use crate::keys;
use crate::tip::{Tip, Track};
use crate::{AppendRequest, Appended, ExpectedVersion, LogError};

/// The idempotency record kept for every request id, written in the same
/// batch as the events it produced.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct RequestRecord {
    #[prost(bytes = "vec", tag = "1")]
    fingerprint: Vec<u8>,
    #[prost(string, repeated, tag = "2")]
    pub(crate) event_ids: Vec<String>,
    #[prost(uint64, tag = "3")]
    pub(crate) first_position: u64,
    #[prost(uint64, tag = "4")]
    pub(crate) last_position: u64,
    #[prost(uint64, tag = "5")]
    stream_version: u64,
}

impl RequestRecord {
    pub(crate) fn replayed(self) -> Appended {
        Appended {
            event_ids: self.event_ids,
            first_position: self.first_position,
            last_position: self.last_position,
            stream_version: self.stream_version,
            replayed: true,
        }
    }

    /// Whether `fingerprint` is the recorded request's.
    pub(crate) fn matches(&self, fingerprint: &[u8]) -> bool {
        self.fingerprint == fingerprint
    }

    /// The earlier append's result, if `fingerprint` is the same request.
    fn replay(&self, request_id: &str, fingerprint: &[u8]) -> Result<Appended, LogError> {
        if !self.matches(fingerprint) {
            return Err(LogError::RequestIdReused(request_id.to_owned()));
        }
        Ok(self.clone().replayed())
    }
}

/// The stored idempotency record of `request_id`, if any.
pub(crate) fn stored_request(
    tree: &sled::Tree,
    request_id: &str,
) -> Result<Option<RequestRecord>, LogError> {
    let Some(bytes) = tree.get(keys::request(request_id))? else {
        return Ok(None);
    };
    RequestRecord::decode(bytes.as_ref())
        .map(Some)
        .map_err(|source| LogError::Corrupt {
            key: format!("request {request_id}"),
            source,
        })
}

/// State only the event writer touches: the chain's tip and the ULID
/// generator (monotonic, so event ids sort in log order).
pub(crate) struct Writer {
    pub(crate) tip: Tip,
    pub(crate) ids: Generator,
}

/// One batch being built: what its requests have written so far.
struct Staged {
    batch: sled::Batch,
    head: u64,
    hash: ChainHash,
    /// Stream versions as this batch's events leave them.
    versions: HashMap<String, u64>,
    /// Request ids appended in this batch.
    requests: HashMap<String, RequestRecord>,
    /// Whether any request was accepted into the batch.
    accepted: bool,
}

/// One request's outcome, and whether it depends on the batch being stored.
type Outcome = (Result<Appended, LogError>, bool);

/// Checks `requests` in order and stores the accepted ones as one batch.
/// The writer's tip moves only once the batch is stored; if storing fails,
/// every request that depended on it gets the error and the chain stops
/// growing.
pub(crate) fn store(
    tree: &sled::Tree,
    track: &Track,
    writer: &mut Writer,
    requests: Vec<AppendRequest>,
) -> Vec<Result<Appended, LogError>> {
    let Some(hash) = writer.tip.hash else {
        let damaged = |_| Err(writer.tip.damaged(Chain::Events));
        return requests.iter().map(damaged).collect();
    };
    let mut staged = Staged {
        batch: sled::Batch::default(),
        head: writer.tip.head,
        hash,
        versions: HashMap::new(),
        requests: HashMap::new(),
        accepted: false,
    };
    let recorded_at = writer.tip.next_time();
    let outcomes: Vec<Outcome> = requests
        .iter()
        .map(|request| stage(tree, &mut writer.ids, &mut staged, request, recorded_at))
        .collect();
    if staged.accepted {
        if let Err(error) = tree.apply_batch(staged.batch) {
            // sled may have stored part of the batch in memory: the chain
            // must not grow from here until the log is reopened (which
            // recovers the last complete batch and verifies it).
            writer.tip.hash = None;
            return outcomes
                .into_iter()
                .map(|(outcome, in_batch)| match in_batch {
                    true => Err(LogError::Storage(error.clone())),
                    false => outcome,
                })
                .collect();
        }
        writer.tip = Tip {
            head: staged.head,
            hash: Some(staged.hash),
            time: recorded_at,
        };
        track.written.store(staged.head, Ordering::Release);
    }
    outcomes.into_iter().map(|(outcome, _)| outcome).collect()
}

/// Checks one request against the store and the batch so far, and adds its
/// writes to the batch when it is accepted.
fn stage(
    tree: &sled::Tree,
    ids: &mut Generator,
    staged: &mut Staged,
    request: &AppendRequest,
    recorded_at: icr_proto::Timestamp,
) -> Outcome {
    let id = request.request_id.as_str();
    if let Some(record) = staged.requests.get(id) {
        return (record.replay(id, &request.fingerprint), true);
    }
    match stored_request(tree, id) {
        Ok(Some(record)) => return (record.replay(id, &request.fingerprint), false),
        Ok(None) => {}
        Err(error) => return (Err(error), false),
    }
    let (current, event_ids) = match check(tree, ids, staged, request) {
        Ok(checked) => checked,
        // A conflict with this batch's own events stands only if it is stored.
        Err(error) => return (Err(error), staged.versions.contains_key(&request.stream)),
    };
    let first_position = staged.head + 1;
    let mut version = current;
    for (pending, event_id) in request.events.iter().zip(&event_ids) {
        staged.head += 1;
        version += 1;
        let event = RecordedEvent {
            id: event_id.clone(),
            position: staged.head,
            stream: request.stream.clone(),
            stream_version: version,
            recorded_at: Some(recorded_at),
            actor: Some(pending.actor.clone()),
            event_type: pending.event_type.clone(),
            schema_version: pending.schema_version,
            request_id: request.request_id.clone(),
            payload: Some(pending.payload.clone()),
            chain_hash: Vec::new(),
        };
        let bytes = event.encode_to_vec();
        staged.hash = link(&staged.hash, &bytes);
        let key = keys::event(staged.head);
        staged.batch.insert(&key, keys::seal(&staged.hash, &bytes));
        staged.batch.insert(
            keys::stream_index(&request.stream, version),
            &staged.head.to_be_bytes(),
        );
    }
    let record = RequestRecord {
        fingerprint: request.fingerprint.clone(),
        event_ids,
        first_position,
        last_position: staged.head,
        stream_version: version,
    };
    staged
        .batch
        .insert(keys::request(id), record.encode_to_vec());
    staged.versions.insert(request.stream.clone(), version);
    staged.accepted = true;
    staged.requests.insert(id.to_owned(), record.clone());
    let appended = Appended {
        replayed: false,
        ..record.replayed()
    };
    (Ok(appended), true)
}

/// The stream's current version, if the request's expectation holds, and
/// ids for its events.
fn check(
    tree: &sled::Tree,
    ids: &mut Generator,
    staged: &Staged,
    request: &AppendRequest,
) -> Result<(u64, Vec<String>), LogError> {
    let current = match staged.versions.get(&request.stream) {
        Some(version) => *version,
        None => keys::stream_version(tree, &request.stream)?,
    };
    if let ExpectedVersion::Exact(expected) = request.expected_version
        && expected != current
    {
        return Err(LogError::VersionConflict {
            stream: request.stream.clone(),
            expected,
            actual: current,
        });
    }
    let event_ids = request
        .events
        .iter()
        .map(|_| ids.generate().map(|id| id.to_string()))
        .collect::<Result<_, _>>()
        .map_err(|_| LogError::Inconsistent("ULID generator overflowed this millisecond".into()))?;
    Ok((current, event_ids))
}

#[cfg(test)]
mod tests {
    use icr_proto::pb::event_payload::Kind;
    use icr_proto::pb::{Actor, EventPayload, OrganisationLeft};

    use super::*;
    use crate::PendingEvent;

    fn request(stream: &str, expected: ExpectedVersion, id: &str, ods: &str) -> AppendRequest {
        AppendRequest {
            stream: stream.into(),
            expected_version: expected,
            request_id: id.into(),
            fingerprint: ods.as_bytes().to_vec(),
            events: vec![PendingEvent {
                actor: Actor::default(),
                event_type: "OrganisationLeft".into(),
                schema_version: 1,
                payload: EventPayload {
                    kind: Some(Kind::OrganisationLeft(OrganisationLeft {
                        ods_code: ods.into(),
                    })),
                },
            }],
        }
    }

    #[test]
    fn each_request_in_a_batch_sees_the_ones_before_it() {
        let tree = sled::Config::new()
            .temporary(true)
            .open()
            .and_then(|db| db.open_tree("log"))
            .expect("tree");
        let track = Track::new(0);
        let mut writer = Writer {
            tip: Tip {
                head: 0,
                hash: Some(Chain::Events.genesis()),
                time: icr_proto::Timestamp::default(),
            },
            ids: Generator::new(),
        };
        let outcomes = store(
            &tree,
            &track,
            &mut writer,
            vec![
                request("s/a", ExpectedVersion::Exact(0), "r1", "A1"),
                request("s/a", ExpectedVersion::Exact(0), "r2", "A2"),
                request("s/a", ExpectedVersion::Exact(1), "r3", "A3"),
                request("s/b", ExpectedVersion::Any, "r1", "A1"),
                request("s/b", ExpectedVersion::Any, "r1", "B1"),
            ],
        );
        let first = outcomes[0].as_ref().expect("first");
        assert_eq!((first.last_position, first.stream_version), (1, 1));
        assert!(
            matches!(
                outcomes[1],
                Err(LogError::VersionConflict { actual: 1, .. })
            ),
            "a second writer expecting version 0 sees the first's event: {:?}",
            outcomes[1]
        );
        let third = outcomes[2].as_ref().expect("third");
        assert_eq!((third.last_position, third.stream_version), (2, 2));
        let retry = outcomes[3].as_ref().expect("retry of r1");
        assert!(retry.replayed && retry.last_position == 1);
        assert!(matches!(outcomes[4], Err(LogError::RequestIdReused(_))));
        assert_eq!(writer.tip.head, 2, "only accepted requests wrote");
        assert_eq!(track.written.load(Ordering::Acquire), 2);
        assert_eq!(keys::stream_version(&tree, "s/a").expect("version"), 2);
        assert_eq!(keys::stream_version(&tree, "s/b").expect("version"), 0);
    }
}

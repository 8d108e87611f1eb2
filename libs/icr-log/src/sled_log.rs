//! [`EventLog`] on an embedded sled database.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use icr_proto::Timestamp;
use icr_proto::pb::RecordedEvent;
use prost::Message;
use tokio::sync::watch;
use ulid::Generator;

use crate::chain::{Chain, link};
use crate::keys::{self, decode_u64};
pub(crate) use crate::tip::{Tip, Track};
use crate::{AppendRequest, Appended, EventLog, ExpectedVersion, LogError};

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
    fn replayed(self) -> Appended {
        Appended {
            event_ids: self.event_ids,
            first_position: self.first_position,
            last_position: self.last_position,
            stream_version: self.stream_version,
            replayed: true,
        }
    }
}

/// State only the event writer touches: the chain's tip and the ULID
/// generator (monotonic, so event ids sort in log order).
struct Writer {
    tip: Tip,
    ids: Generator,
}

pub(crate) struct Inner {
    db: sled::Db,
    pub(crate) tree: sled::Tree,
    /// Held only while checking expectations and applying one batch in
    /// memory, never across a flush, so concurrent appends share flushes.
    writer: Mutex<Writer>,
    /// The event log's progress.
    pub(crate) events: Track,
    /// The decision audit: its own tree in the same database, so one flush
    /// makes events and decisions durable together.
    pub(crate) audit_tree: sled::Tree,
    /// The decision chain's tip, held only while applying one batch.
    pub(crate) audit_writer: Mutex<Tip>,
    /// The decision audit's progress.
    pub(crate) audit: Track,
    /// Signed checkpoints, by sequence.
    pub(crate) checkpoints: sled::Tree,
    /// Serialises checkpoint signing.
    pub(crate) signing: Mutex<()>,
    /// Flushes done since the log was opened.
    flushes: AtomicU64,
    /// Serialises flushes (never appends): see [`SledLog::make_durable`].
    pub(crate) flushing: tokio::sync::Mutex<()>,
}

/// The sled-backed event log. Cheap to clone; clones share the database.
#[derive(Clone)]
pub struct SledLog {
    pub(crate) inner: Arc<Inner>,
}

impl SledLog {
    /// Opens (or creates) the log in directory `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, LogError> {
        let db = sled::open(path)?;
        let tree = db.open_tree("log")?;
        let tip = Tip::load(&tree, keys::EVENT, Chain::Events, event_time)?;
        let audit_tree = db.open_tree("audit")?;
        let audit_tip = crate::audit::tip(&audit_tree)?;
        let checkpoints = db.open_tree("checkpoints")?;
        let inner = Inner {
            db,
            tree,
            events: Track::new(tip.head),
            writer: Mutex::new(Writer {
                tip,
                ids: Generator::new(),
            }),
            audit_tree,
            audit: Track::new(audit_tip.head),
            audit_writer: Mutex::new(audit_tip),
            checkpoints,
            signing: Mutex::new(()),
            flushing: tokio::sync::Mutex::new(()),
            flushes: AtomicU64::new(0),
        };
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// How many flushes the log has done since it was opened: writes per
    /// flush is the group-commit batch size.
    pub fn flushes(&self) -> u64 {
        self.inner.flushes.load(Ordering::Relaxed)
    }

    /// The durable head position.
    pub fn head(&self) -> u64 {
        *self.inner.events.durable.borrow()
    }

    fn get_record(&self, request_id: &str) -> Result<Option<RequestRecord>, LogError> {
        let key = keys::request(request_id);
        let Some(bytes) = self.inner.tree.get(&key)? else {
            return Ok(None);
        };
        RequestRecord::decode(bytes.as_ref())
            .map(Some)
            .map_err(|source| LogError::Corrupt {
                key: format!("request {request_id}"),
                source,
            })
    }

    /// Checks the expectation and applies the whole append as one batch.
    fn write(&self, request: &AppendRequest) -> Result<Appended, LogError> {
        let inner = &self.inner;
        // A panic while holding the lock cannot leave `head` ahead of the
        // tree: it only moves after the batch is applied.
        let mut writer = inner.writer.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(record) = self.get_record(&request.request_id)? {
            if record.fingerprint != request.fingerprint {
                return Err(LogError::RequestIdReused(request.request_id.clone()));
            }
            return Ok(record.replayed());
        }
        let current = keys::stream_version(&inner.tree, &request.stream)?;
        if let ExpectedVersion::Exact(expected) = request.expected_version
            && expected != current
        {
            return Err(LogError::VersionConflict {
                stream: request.stream.clone(),
                expected,
                actual: current,
            });
        }
        let recorded_at = writer.tip.next_time();
        let mut hash = writer.tip.hash(Chain::Events)?;
        let mut batch = sled::Batch::default();
        let mut event_ids = Vec::with_capacity(request.events.len());
        let (mut position, mut version) = (writer.tip.head, current);
        for pending in &request.events {
            position += 1;
            version += 1;
            let id = writer
                .ids
                .generate()
                .map_err(|_| {
                    LogError::Inconsistent("ULID generator overflowed this millisecond".into())
                })?
                .to_string();
            let event = RecordedEvent {
                id: id.clone(),
                position,
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
            hash = link(&hash, &bytes);
            batch.insert(&keys::event(position), keys::seal(&hash, &bytes));
            batch.insert(
                keys::stream_index(&request.stream, version),
                &position.to_be_bytes(),
            );
            event_ids.push(id);
        }
        let record = RequestRecord {
            fingerprint: request.fingerprint.clone(),
            event_ids,
            first_position: writer.tip.head + 1,
            last_position: position,
            stream_version: version,
        };
        batch.insert(keys::request(&request.request_id), record.encode_to_vec());
        inner.tree.apply_batch(batch)?;
        writer.tip = Tip {
            head: position,
            hash: Some(hash),
            time: recorded_at,
        };
        inner.events.written.store(position, Ordering::Release);
        Ok(Appended {
            replayed: false,
            ..record.replayed()
        })
    }

    /// Appends many requests in order with one flush at the end, for bulk
    /// loads (generated benchmark data, imports). Each is checked and
    /// applied as [`EventLog::append`] would; the first refusal stops the
    /// import, and what was applied before it is made durable either way.
    /// Returns the last position written.
    pub async fn import(
        &self,
        requests: impl IntoIterator<Item = AppendRequest>,
    ) -> Result<u64, LogError> {
        let mut outcome = Ok(());
        for request in requests {
            if let Err(error) = check(&request).and_then(|()| self.write(&request)) {
                outcome = Err(error);
                break;
            }
        }
        let written = self.inner.events.written.load(Ordering::Acquire);
        self.make_durable(&self.inner.events, written).await?;
        outcome.map(|()| written)
    }

    /// Returns once everything up to `position` is on disk.
    ///
    /// Group commit: one flush runs at a time while appends go on. A writer
    /// that finds a flush in progress waits for it; if that flush began after
    /// the writer's batch was applied, it already covers it and the writer
    /// returns without flushing again. sled 0.34's `flush_async` can deadlock
    /// when called concurrently (sled issue 1308), so the blocking `flush`
    /// runs on the blocking pool, one at a time.
    pub(crate) async fn make_durable(&self, track: &Track, position: u64) -> Result<(), LogError> {
        let _flushing = self.inner.flushing.lock().await;
        if *track.durable.borrow() >= position {
            return Ok(());
        }
        self.flush_now().await
    }

    /// Flushes everything written so far; the caller holds `flushing`.
    pub(crate) async fn flush_now(&self) -> Result<(), LogError> {
        let inner = &self.inner;
        let events = inner.events.written.load(Ordering::Acquire);
        let audit = inner.audit.written.load(Ordering::Acquire);
        let db = inner.db.clone();
        tokio::task::spawn_blocking(move || db.flush())
            .await
            .map_err(|e| LogError::Inconsistent(format!("flush task failed: {e}")))??;
        inner.flushes.fetch_add(1, Ordering::Relaxed);
        inner.events.advance(events);
        inner.audit.advance(audit);
        Ok(())
    }
}

/// Decodes the event stored under `key`, with its chain hash.
fn decode_event(key: &[u8], value: &[u8]) -> Result<RecordedEvent, LogError> {
    let position = decode_u64(&key[1..]).unwrap_or(0);
    let (hash, bytes) = keys::unseal(value).ok_or_else(|| {
        LogError::Inconsistent(format!("event {position} is shorter than a chain hash"))
    })?;
    let mut event = RecordedEvent::decode(bytes).map_err(|source| LogError::Corrupt {
        key: format!("event {position}"),
        source,
    })?;
    event.chain_hash = hash.to_vec();
    Ok(event)
}

/// The recorded time of an event's encoding.
fn event_time(bytes: &[u8]) -> Option<Timestamp> {
    RecordedEvent::decode(bytes).ok()?.recorded_at
}

/// Refuses a malformed append before anything is written.
fn check(request: &AppendRequest) -> Result<(), LogError> {
    if request.events.is_empty() {
        return Err(LogError::InvalidAppend(
            "an append needs at least one event",
        ));
    }
    if request.stream.is_empty() || request.stream.contains('\0') {
        return Err(LogError::InvalidAppend(
            "stream name must be non-empty without NUL",
        ));
    }
    Ok(())
}

impl EventLog for SledLog {
    async fn append(&self, request: AppendRequest) -> Result<Appended, LogError> {
        check(&request)?;
        let appended = self.write(&request)?;
        self.make_durable(&self.inner.events, appended.last_position)
            .await?;
        Ok(appended)
    }

    async fn find_request(
        &self,
        request_id: &str,
        fingerprint: &[u8],
    ) -> Result<Option<Appended>, LogError> {
        let Some(record) = self.get_record(request_id)? else {
            return Ok(None);
        };
        if record.fingerprint != fingerprint {
            return Err(LogError::RequestIdReused(request_id.to_owned()));
        }
        self.make_durable(&self.inner.events, record.last_position)
            .await?;
        Ok(Some(record.replayed()))
    }

    async fn read_from(&self, from: u64, limit: usize) -> Result<Vec<RecordedEvent>, LogError> {
        let durable = self.head();
        let from = from.max(1);
        if from > durable {
            return Ok(Vec::new());
        }
        self.inner
            .tree
            .range(keys::event(from)..=keys::event(durable))
            .take(limit)
            .map(|entry| {
                let (key, value) = entry?;
                decode_event(&key, &value)
            })
            .collect()
    }

    async fn read_stream(
        &self,
        stream: &str,
        from_version: u64,
    ) -> Result<Vec<RecordedEvent>, LogError> {
        let tree = &self.inner.tree;
        let range = keys::stream_index(stream, from_version.max(1))
            ..=keys::stream_index(stream, u64::MAX);
        let mut events = Vec::new();
        for entry in tree.range(range) {
            let (_, position) = entry?;
            let key = keys::event(decode_u64(&position).unwrap_or(0));
            let value = tree.get(key)?.ok_or_else(|| {
                LogError::Inconsistent(format!("stream {stream} indexes a missing event"))
            })?;
            let event = decode_event(&key, &value)?;
            if event.stream != stream {
                return Err(LogError::Inconsistent(format!(
                    "stream {stream} indexes event {} of another stream",
                    event.position
                )));
            }
            events.push(event);
        }
        Ok(events)
    }

    async fn first_position_since(&self, time: Timestamp) -> Result<u64, LogError> {
        keys::first_since(&self.inner.tree, keys::EVENT, self.head(), time, event_time)
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.events.durable.subscribe()
    }
}

#[cfg(test)]
#[path = "sled_log_tests.rs"]
mod tests;

//! [`EventLog`] on an embedded sled database.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use icr_proto::Timestamp;
use icr_proto::pb::{DecisionRecord, RecordedEvent};
use prost::Message;
use tokio::sync::watch;
use ulid::Generator;

use crate::acknowledged::{Acknowledged, Heads};
use crate::append::{self, Writer};
use crate::chain::Chain;
use crate::combine::Combining;
use crate::disk::DiskSync;
use crate::keys::{self, decode_u64};
use crate::metrics::{Kind, LogMetrics};
use crate::opening::{self, Keeping};
use crate::tip::{Tip, Track};
use crate::{AppendRequest, Appended, EventLog, LogError};

pub(crate) struct Inner {
    pub(crate) db: sled::Db,
    /// Our own handle on sled's files, to make a flush survive power loss.
    pub(crate) disk: DiskSync,
    /// The record of what was acknowledged, written by every flush; `None`
    /// only in benchmarks measuring what it costs.
    pub(crate) acknowledged: Option<Acknowledged>,
    pub(crate) tree: sled::Tree,
    /// The event writer, held only while checking the waiting appends and
    /// applying them as one batch in memory, never across a flush, so
    /// concurrent appends share batches and flushes.
    writer: Combining<Writer, AppendRequest, Result<Appended, LogError>>,
    /// The event log's progress.
    pub(crate) events: Track,
    /// The decision audit: its own tree in the same database, so one flush
    /// makes events and decisions durable together.
    pub(crate) audit_tree: sled::Tree,
    /// The decision chain's tip, held only while applying one batch of the
    /// records of every caller waiting.
    pub(crate) audit_writer: Combining<Tip, Vec<DecisionRecord>, Result<Vec<u64>, LogError>>,
    /// The decision audit's progress.
    pub(crate) audit: Track,
    /// Signed checkpoints, by sequence.
    pub(crate) checkpoints: sled::Tree,
    /// Serialises checkpoint signing.
    pub(crate) signing: Mutex<()>,
    /// Flushes done since the log was opened.
    pub(crate) flushes: AtomicU64,
    /// Append latency and flush batch sizes, for OpenTelemetry.
    pub(crate) metrics: LogMetrics,
    /// Serialises flushes (never appends): see [`SledLog::make_durable`].
    pub(crate) flushing: tokio::sync::Mutex<()>,
    /// The first storage failure on the write path: see
    /// [`SledLog::storage_failed`].
    failure: watch::Sender<Option<String>>,
}

impl Inner {
    /// Remembers the first storage failure on the write path.
    pub(crate) fn note_failure(&self, what: String) {
        self.failure.send_if_modified(|failure| {
            let first = failure.is_none();
            if first {
                *failure = Some(what);
            }
            first
        });
    }
}

/// The sled-backed event log. Cheap to clone; clones share the database.
#[derive(Clone)]
pub struct SledLog {
    pub(crate) inner: Arc<Inner>,
}

impl SledLog {
    /// Opens (or creates) the log in directory `path`, and compares it with
    /// the record of what was acknowledged there (see
    /// [`LogError::Lost`]): a log that lost acknowledged records is refused,
    /// and so is a directory whose record is unreadable or gone
    /// ([`LogError::AcknowledgedUnreadable`],
    /// [`LogError::AcknowledgedMissing`]). A directory that never kept one
    /// (new, or written by a version that kept none) gets one holding the
    /// log's heads, with a warning when the log is not empty.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, LogError> {
        Self::open_with(path.as_ref(), Some(Keeping::Keep))
    }

    /// Opens the log to check it: compares it with the record of what was
    /// acknowledged and refuses as [`SledLog::open`] does, but writes no
    /// record. On a directory that never kept one nothing is compared and
    /// [`SledLog::acknowledged`] is `None`.
    pub fn open_to_verify(path: impl AsRef<Path>) -> Result<Self, LogError> {
        Self::open_with(path.as_ref(), Some(Keeping::Check))
    }

    /// Opens the log and records its heads in a new record of what was
    /// acknowledged, whatever record is there (an unreadable one is kept as
    /// `acknowledged-heads.replaced`). A tail the log lost before now can
    /// then no longer be detected: only for an operator who compared the
    /// directory with a backup and accepts that.
    pub fn open_replacing_acknowledged_record(path: impl AsRef<Path>) -> Result<Self, LogError> {
        Self::open_with(path.as_ref(), Some(Keeping::Replace))
    }

    /// Opens the log without the record of what was acknowledged, neither
    /// checking nor writing it: only for benchmarks measuring what keeping
    /// it costs. Never use it for history that matters.
    #[doc(hidden)]
    pub fn open_without_acknowledged_record(path: impl AsRef<Path>) -> Result<Self, LogError> {
        Self::open_with(path.as_ref(), None)
    }

    fn open_with(path: &Path, keeping: Option<Keeping>) -> Result<Self, LogError> {
        let db = opening::open_db(path)?;
        let disk = DiskSync::open(path).map_err(sled::Error::Io)?;
        let tree = db.open_tree("log")?;
        let tip = Tip::load(&tree, keys::EVENT, Chain::Events, event_time)?;
        let audit_tree = db.open_tree("audit")?;
        let audit_tip = crate::audit_keys::tip(&audit_tree)?;
        let checkpoints = db.open_tree("checkpoints")?;
        let acknowledged = match keeping {
            Some(keeping) => {
                let found = opening::stored_heads(&tree, tip.head, &audit_tree, audit_tip.head)?;
                let storage = opening::Storage {
                    dir: path,
                    db: &db,
                    disk: &disk,
                    log: &tree,
                    audit: &audit_tree,
                };
                opening::check_acknowledged(&storage, &found, keeping)?
            }
            None => None,
        };
        let inner = Inner {
            db,
            disk,
            acknowledged,
            tree,
            events: Track::new(tip.head),
            writer: Combining::new(Writer {
                tip,
                ids: Generator::new(),
            }),
            audit_tree,
            audit: Track::new(audit_tip.head),
            audit_writer: Combining::new(audit_tip),
            checkpoints,
            signing: Mutex::new(()),
            flushing: tokio::sync::Mutex::new(()),
            flushes: AtomicU64::new(0),
            metrics: LogMetrics::new(),
            failure: watch::channel(None).0,
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

    /// The heads of both chains as last recorded acknowledged (at open, the
    /// log's own heads once it was found to hold everything acknowledged).
    pub fn acknowledged(&self) -> Option<Heads> {
        self.inner.acknowledged.as_ref().map(Acknowledged::heads)
    }

    /// The durable head position.
    pub fn head(&self) -> u64 {
        *self.inner.events.durable.borrow()
    }

    /// Resolves, with sled's error, once a write or a flush failed in
    /// storage (a full disk, an I/O error). sled then refuses every later
    /// write with the same error even after the cause is gone, and the
    /// chains cannot grow past a batch that may be half in memory: only
    /// reopening the log (restarting the service) recovers, from the last
    /// durable batch. Reads go on answering from what is durable.
    pub async fn storage_failed(&self) -> String {
        let mut failure = self.inner.failure.subscribe();
        let failed = failure.wait_for(Option::is_some).await;
        failed.ok().and_then(|f| f.clone()).unwrap_or_default()
    }

    /// The first storage failure on the write path, if there was one.
    pub fn storage_failure(&self) -> Option<String> {
        self.inner.failure.borrow().clone()
    }

    /// Passes `result` on, remembering a storage failure.
    pub(crate) fn noting_failure<T>(&self, result: Result<T, LogError>) -> Result<T, LogError> {
        if let Err(LogError::Storage(error)) = &result {
            self.inner.note_failure(error.to_string());
        }
        result
    }

    /// Checks and stores `request` with whatever other appends are waiting.
    async fn write(&self, request: AppendRequest) -> Result<Appended, LogError> {
        let inner = &self.inner;
        let written = inner
            .writer
            .submit(request, |writer, requests| {
                append::store(&inner.tree, &inner.events, writer, requests)
            })
            .await
            .ok_or_else(|| LogError::Inconsistent("appending panicked".into()))?;
        self.noting_failure(written)
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
            let written = match check(&request) {
                Ok(()) => self.write(request).await,
                Err(error) => Err(error),
            };
            if let Err(error) = written {
                outcome = Err(error);
                break;
            }
        }
        let written = self.inner.events.written.load(Ordering::Acquire);
        self.make_durable(&self.inner.events, written).await?;
        outcome.map(|()| written)
    }
}

/// Decodes the event stored under `key`, with its chain hash.
pub(crate) fn decode_event(key: &[u8], value: &[u8]) -> Result<RecordedEvent, LogError> {
    let position = key.get(1..).and_then(decode_u64).unwrap_or(0);
    let (mut event, hash): (RecordedEvent, _) =
        keys::decode_sealed(value, || format!("event {position}"))?;
    event.chain_hash = hash.to_vec();
    Ok(event)
}

/// The recorded time of an event's encoding.
pub(crate) fn event_time(bytes: &[u8]) -> Option<Timestamp> {
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
        let started = Instant::now();
        let appended = self.write(request).await?;
        self.make_durable(&self.inner.events, appended.last_position)
            .await?;
        self.inner.metrics.appended(Kind::Events, started);
        Ok(appended)
    }

    async fn find_request(
        &self,
        request_id: &str,
        fingerprint: &[u8],
    ) -> Result<Option<Appended>, LogError> {
        let Some(record) = append::stored_request(&self.inner.tree, request_id)? else {
            return Ok(None);
        };
        if !record.matches(fingerprint) {
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
        let range =
            keys::stream_index(stream, from_version.max(1))..=keys::stream_index(stream, u64::MAX);
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

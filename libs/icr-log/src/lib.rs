//! The append-only event log and the decision audit.
//!
//! [`EventLog`] is the storage contract of consent history: append with an
//! expected stream version and a request id, read a range of the global
//! log, read one stream, find a position by time, and subscribe to the
//! durable head. [`DecisionAudit`] records and reads access decisions;
//! [`TamperEvidence`] signs and lists checkpoints. [`SledLog`] implements
//! all three on an embedded sled database; a NATS JetStream backend can
//! implement the same traits without the domain noticing. [`chain`] and
//! [`Verifier`] define and check the hash chains over both logs. Beside
//! sled's files the log keeps a record of the heads it acknowledged
//! ([`ACKNOWLEDGED_HEADS_FILE`]), and refuses to open a log short of it
//! ([`LogError::Lost`]): sled's crash recovery drops a damaged tail without
//! a word. A mark inside sled says the record is kept, so a directory that
//! lost the file is refused too ([`LogError::AcknowledgedMissing`]).
//!
//! Nothing here updates or deletes an event or a decision, and no API to do
//! so exists.
#![forbid(unsafe_code)]

mod acknowledged;
mod append;
mod audit;
mod audit_keys;
pub mod chain;
mod combine;
mod damage;
#[cfg(test)]
mod decode_props;
mod disk;
mod error;
mod fingerprint;
mod flush;
mod integrity;
mod keys;
mod metrics;
mod opening;
mod signer;
mod sled_log;
mod tamper;
#[cfg(any(test, feature = "test-util"))]
pub mod test_util;
mod tip;
mod verify;

use std::future::Future;

use icr_proto::Timestamp;
use icr_proto::pb::{Actor, EventPayload, RecordedEvent};
use tokio::sync::watch;

/// The file in a data directory that records what was acknowledged.
pub use acknowledged::FILE_NAME as ACKNOWLEDGED_HEADS_FILE;
pub use acknowledged::Heads;
pub use audit::DecisionAudit;
pub use chain::Break;
pub use damage::{Damage, Lost};
/// The signature scheme of checkpoints, re-exported so callers use the same
/// version.
pub use ed25519_dalek;
pub use error::LogError;
pub use fingerprint::key_fingerprint;
pub use signer::{KeyMismatch, key_mismatch};
/// The storage engine, whose errors [`LogError::Storage`] carries.
pub use sled;
pub use sled_log::SledLog;
pub use tamper::TamperEvidence;
pub use verify::{Verification, Verifier};

/// What the caller expects the stream's version to be before the append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// Append whatever the version is.
    Any,
    /// Append only if the stream is at exactly this version (0 = empty).
    Exact(u64),
}

/// An event the caller wants recorded; the log assigns its id, position,
/// stream version and time.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingEvent {
    /// Who caused it.
    pub actor: Actor,
    /// Event type name.
    pub event_type: String,
    /// Schema version of the payload.
    pub schema_version: u32,
    /// The payload.
    pub payload: EventPayload,
}

/// One atomic append of events to one stream.
#[derive(Debug, Clone, PartialEq)]
pub struct AppendRequest {
    /// Target stream.
    pub stream: String,
    /// Optimistic concurrency expectation.
    pub expected_version: ExpectedVersion,
    /// Client request id: a second append with the same id appends nothing
    /// and returns the first result.
    pub request_id: String,
    /// Digest of the request's content; reusing a request id for different
    /// content is refused.
    pub fingerprint: Vec<u8>,
    /// Events to append, in order (at least one).
    pub events: Vec<PendingEvent>,
}

/// The durable result of an append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// Ids of the appended events, in order.
    pub event_ids: Vec<String>,
    /// Position of the first event.
    pub first_position: u64,
    /// Position of the last event: a consistency token for later reads.
    pub last_position: u64,
    /// Stream version after the append.
    pub stream_version: u64,
    /// True when the request id had been seen and nothing new was appended.
    pub replayed: bool,
}

/// The storage contract of the event log.
///
/// Positions start at 1 and are gapless. A write is reported only once it is
/// durable, and [`EventLog::read_from`] and [`EventLog::subscribe`] only ever
/// show durable events, so nothing downstream acts on a write that a crash
/// could take back.
pub trait EventLog: Send + Sync + 'static {
    /// Appends atomically: the events, their stream index and the
    /// idempotency record are written together or not at all.
    fn append(
        &self,
        request: AppendRequest,
    ) -> impl Future<Output = Result<Appended, LogError>> + Send;

    /// The durable result of an earlier append with this request id, if any.
    /// A request id recorded with a different fingerprint is
    /// [`LogError::RequestIdReused`].
    fn find_request(
        &self,
        request_id: &str,
        fingerprint: &[u8],
    ) -> impl Future<Output = Result<Option<Appended>, LogError>> + Send;

    /// Up to `limit` durable events from position `from` on, in order.
    fn read_from(
        &self,
        from: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>, LogError>> + Send;

    /// The events of one stream from stream version `from_version` on (1 or
    /// 0 for all), in stream order, including ones whose flush is still in
    /// progress (they cannot be acknowledged before it ends). A writer that
    /// has folded a stream up to version `v` reads from `v + 1`.
    fn read_stream(
        &self,
        stream: &str,
        from_version: u64,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>, LogError>> + Send;

    /// The first durable position recorded at or after `time` (one past the
    /// durable head when there is none). Recorded times never decrease
    /// along the log.
    fn first_position_since(
        &self,
        time: Timestamp,
    ) -> impl Future<Output = Result<u64, LogError>> + Send;

    /// The durable head position, updated after every flush.
    fn subscribe(&self) -> watch::Receiver<u64>;
}

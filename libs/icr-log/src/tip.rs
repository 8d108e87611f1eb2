//! The tip of a hash chain as its writer extends it, and how far a tree
//! has been written and made durable.

use std::sync::atomic::AtomicU64;

use icr_proto::Timestamp;
use tokio::sync::watch;

use crate::LogError;
use crate::chain::{Chain, ChainHash};
use crate::keys;

/// The current time as a protobuf timestamp.
pub(crate) fn now() -> Timestamp {
    let now = jiff::Timestamp::now();
    Timestamp {
        seconds: now.as_second(),
        nanos: now.subsec_nanosecond(),
    }
}

/// The end of one chain, as its writer extends it.
pub(crate) struct Tip {
    /// Last position written.
    pub(crate) head: u64,
    /// Chain hash at `head`; `None` when it is missing or malformed, or a
    /// batch failed to store, and the chain then refuses to grow
    /// (verification says where it broke).
    pub(crate) hash: Option<ChainHash>,
    /// Recorded time at `head`. Times never go backwards along a chain, so
    /// a time range is a position range.
    pub(crate) time: Timestamp,
}

impl Tip {
    /// Reads the tip of the chain stored in `tree` under `prefix`, with
    /// `time_of` reading an item's recorded time from its encoding.
    pub(crate) fn load(
        tree: &sled::Tree,
        prefix: u8,
        chain: Chain,
        time_of: fn(&[u8]) -> Option<Timestamp>,
    ) -> Result<Self, LogError> {
        let head = keys::last_position(tree, prefix)?;
        if head == 0 {
            return Ok(Self {
                head,
                hash: Some(chain.genesis()),
                time: Timestamp::default(),
            });
        }
        let value = tree.get(keys::positioned(prefix, head))?;
        let sealed = value.as_deref().and_then(keys::unseal);
        let hash = sealed.map(|(hash, _)| hash);
        let time = sealed
            .and_then(|(_, item)| time_of(item))
            .unwrap_or_default();
        Ok(Self { head, hash, time })
    }

    /// Why the chain cannot grow: its hash at `head` is missing, or a
    /// failed write left it unknown.
    pub(crate) fn damaged(&self, chain: Chain) -> LogError {
        LogError::Inconsistent(format!(
            "the {} chain cannot grow past position {}: restart the service, which verifies the log",
            chain.name(),
            self.head
        ))
    }

    /// Now, or the tip's time if the clock has gone back since.
    pub(crate) fn next_time(&self) -> Timestamp {
        let now = now();
        if (now.seconds, now.nanos) < (self.time.seconds, self.time.nanos) {
            self.time
        } else {
            now
        }
    }
}

/// How far one tree has been written and made durable.
pub(crate) struct Track {
    /// Highest position applied to the tree (durable or not).
    pub(crate) written: AtomicU64,
    /// Highest position known to be on disk.
    pub(crate) durable: watch::Sender<u64>,
}

impl Track {
    pub(crate) fn new(head: u64) -> Self {
        Self {
            written: AtomicU64::new(head),
            durable: watch::channel(head).0,
        }
    }

    /// Highest position known to be on disk.
    pub(crate) fn durable(&self) -> u64 {
        *self.durable.borrow()
    }

    /// Records that a flush covered everything up to `covered`.
    pub(crate) fn advance(&self, covered: u64) {
        self.durable.send_if_modified(|durable| {
            let advanced = covered > *durable;
            if advanced {
                *durable = covered;
            }
            advanced
        });
    }
}

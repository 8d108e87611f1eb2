//! Verification of both hash chains against the signed checkpoints, fed
//! item by item so it runs the same over a sled directory or a replay
//! stream, holding only the checkpoints in memory.

use std::collections::BTreeMap;

use ed25519_dalek::VerifyingKey;
use icr_proto::pb::Checkpoint;

use crate::chain::{Break, Chain, ChainWalk, verify_checkpoint};

/// What a verification established.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verification {
    /// Events verified: positions `1..=events` chain correctly.
    pub events: u64,
    /// Decision records verified.
    pub decisions: u64,
    /// Checkpoints whose signature (when a key was given) and hashes held.
    pub checkpoints: u64,
    /// Highest event position a checkpoint vouches for.
    pub signed_events: u64,
    /// Highest audit position a checkpoint vouches for.
    pub signed_decisions: u64,
}

impl std::fmt::Display for Verification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "verified up to event position {} and decision position {}; {} checkpoints, \
             signed up to event {} and decision {}",
            self.events,
            self.decisions,
            self.checkpoints,
            self.signed_events,
            self.signed_decisions
        )
    }
}

/// Hashes the checkpoints pin at each position of one chain: (sequence, hash).
type Pins = BTreeMap<u64, Vec<(u64, Vec<u8>)>>;

/// One chain's walk and the checkpoints that pin it.
struct Pinned {
    walk: ChainWalk,
    pins: Pins,
}

impl Pinned {
    fn push(&mut self, key: u64, item: u64, bytes: &[u8], stored: &[u8]) -> Result<(), Break> {
        let hash = self.walk.push(key, item, bytes, stored)?;
        if let Some(pins) = self.pins.remove(&key) {
            for (sequence, pinned) in pins {
                if pinned != hash {
                    return Err(Break {
                        chain: Chain::Checkpoints,
                        position: sequence,
                        reason: format!(
                            "checkpoint pins {} position {key} to a different hash: \
                             the log up to there was rewritten",
                            self.walk.chain().name()
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// Fails if a checkpoint vouches for a position past the end.
    fn finish(self) -> Result<u64, Break> {
        match self.pins.first_key_value() {
            Some((&position, pins)) => Err(Break {
                chain: Chain::Checkpoints,
                position: pins.first().map_or(0, |p| p.0),
                reason: format!(
                    "checkpoint vouches for {} position {position} but the chain ends at {}: \
                     records were removed",
                    self.walk.chain().name(),
                    self.walk.position()
                ),
            }),
            None => Ok(self.walk.position()),
        }
    }
}

/// Verifies both chains: feed every event, then every decision record, in
/// position order, then call [`Verifier::finish`].
pub struct Verifier {
    events: Pinned,
    decisions: Pinned,
    summary: Verification,
}

impl Verifier {
    /// Checks the checkpoints themselves (gapless sequence; signed by `key`
    /// when one is given) and pins their hashes for the walk.
    pub fn new(key: Option<&VerifyingKey>, checkpoints: &[Checkpoint]) -> Result<Self, Break> {
        let mut summary = Verification::default();
        let (mut event_pins, mut audit_pins) = (Pins::new(), Pins::new());
        for (expected, checkpoint) in (1..).zip(checkpoints) {
            let broken = |reason: String| Break {
                chain: Chain::Checkpoints,
                position: expected,
                reason,
            };
            if checkpoint.sequence != expected {
                let found = checkpoint.sequence;
                return Err(broken(format!(
                    "checkpoint {expected} is missing (found {found})"
                )));
            }
            if let Some(key) = key {
                verify_checkpoint(key, checkpoint).map_err(broken)?;
            }
            // A hash is 32 bytes, or empty for an empty chain: the signed
            // message is then unambiguous.
            let well_formed = |position: u64, hash: &[u8]| match position {
                0 => hash.is_empty(),
                _ => hash.len() == 32,
            };
            if !well_formed(checkpoint.event_position, &checkpoint.event_hash)
                || !well_formed(checkpoint.audit_position, &checkpoint.audit_hash)
            {
                return Err(broken("a hash is not 32 bytes".into()));
            }
            if checkpoint.event_position > 0 {
                event_pins
                    .entry(checkpoint.event_position)
                    .or_default()
                    .push((expected, checkpoint.event_hash.clone()));
            }
            if checkpoint.audit_position > 0 {
                audit_pins
                    .entry(checkpoint.audit_position)
                    .or_default()
                    .push((expected, checkpoint.audit_hash.clone()));
            }
            summary.checkpoints = expected;
            summary.signed_events = summary.signed_events.max(checkpoint.event_position);
            summary.signed_decisions = summary.signed_decisions.max(checkpoint.audit_position);
        }
        Ok(Self {
            events: Pinned {
                walk: ChainWalk::new(Chain::Events),
                pins: event_pins,
            },
            decisions: Pinned {
                walk: ChainWalk::new(Chain::Decisions),
                pins: audit_pins,
            },
            summary,
        })
    }

    /// The next event: stored under `key`, claiming `position`, stored as
    /// `bytes`, with the chain hash kept beside it.
    pub fn event(
        &mut self,
        key: u64,
        position: u64,
        bytes: &[u8],
        hash: &[u8],
    ) -> Result<(), Break> {
        self.events.push(key, position, bytes, hash)
    }

    /// The next decision record, like [`Verifier::event`].
    pub fn decision(
        &mut self,
        key: u64,
        position: u64,
        bytes: &[u8],
        hash: &[u8],
    ) -> Result<(), Break> {
        self.decisions.push(key, position, bytes, hash)
    }

    /// The break at the next event position, for a record that cannot be
    /// read at all.
    pub fn event_unreadable(&self, reason: impl Into<String>) -> Break {
        self.events.walk.broken(reason)
    }

    /// The break at the next decision position.
    pub fn decision_unreadable(&self, reason: impl Into<String>) -> Break {
        self.decisions.walk.broken(reason)
    }

    /// Ends the walk: every checkpoint must have been reached.
    pub fn finish(self) -> Result<Verification, Break> {
        let mut summary = self.summary;
        summary.events = self.events.finish()?;
        summary.decisions = self.decisions.finish()?;
        Ok(summary)
    }
}

//! Tamper evidence: the hash chains over events and decision records, and
//! the signed checkpoints that pin them.
//!
//! Each chain starts from a constant genesis hash; the chain hash of item
//! `n` is `SHA-256(chain hash of item n-1 ‖ item n encoded)`, where the
//! encoding is the protobuf encoding of the item with its own `chain_hash`
//! field empty (exactly the bytes the log stores). Changing, removing or
//! reordering any stored item breaks the chain at that item; rewriting the
//! whole tail consistently is caught by a signed [`Checkpoint`], whose
//! ed25519 signature covers [`checkpoint_message`].
//!
//! These functions are pure so the service (at start), the offline verifier
//! (over a sled directory) and a client (over a replay stream) share them.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use icr_proto::pb::{Checkpoint, DecisionRecord, RecordedEvent};
use prost::Message;
use sha2::{Digest, Sha256};

use crate::fingerprint::key_fingerprint;

/// A chain hash.
pub type ChainHash = [u8; 32];

/// The two chains the log keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chain {
    /// Consent and policy events.
    Events,
    /// Access decision records.
    Decisions,
    /// The signed checkpoints: not hash-chained (each is signed), but
    /// numbered gaplessly; a break names the checkpoint's sequence.
    Checkpoints,
}

impl Chain {
    /// The hash that precedes the first item.
    pub fn genesis(self) -> ChainHash {
        let label: &[u8] = match self {
            Self::Events => b"icr-consent/events/v1",
            Self::Decisions => b"icr-consent/decisions/v1",
            Self::Checkpoints => b"icr-consent/checkpoints/v1",
        };
        Sha256::digest(label).into()
    }

    /// Lower-case name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Events => "event",
            Self::Decisions => "decision",
            Self::Checkpoints => "checkpoint",
        }
    }
}

/// The chain hash of an item whose encoding is `bytes`, after `previous`.
pub fn link(previous: &ChainHash, bytes: &[u8]) -> ChainHash {
    let mut hasher = Sha256::new();
    hasher.update(previous);
    hasher.update(bytes);
    hasher.finalize().into()
}

/// The hashed (and stored) bytes of an event: its encoding without
/// `chain_hash`.
pub fn event_bytes(event: &RecordedEvent) -> Vec<u8> {
    if event.chain_hash.is_empty() {
        return event.encode_to_vec();
    }
    RecordedEvent {
        chain_hash: Vec::new(),
        ..event.clone()
    }
    .encode_to_vec()
}

/// The hashed (and stored) bytes of a decision record.
pub fn decision_bytes(record: &DecisionRecord) -> Vec<u8> {
    if record.chain_hash.is_empty() {
        return record.encode_to_vec();
    }
    DecisionRecord {
        chain_hash: Vec::new(),
        ..record.clone()
    }
    .encode_to_vec()
}

/// The bytes a checkpoint's signature covers: a fixed layout anyone can
/// rebuild without protobuf:
///
/// `"icr-consent checkpoint v1\n"` ‖ sequence ‖ event position ‖ event hash
/// ‖ audit position ‖ audit hash ‖ signed-at seconds ‖ signed-at nanos,
/// integers big-endian (u64, u64, u64, i64, i32), hashes as 32 raw bytes.
pub fn checkpoint_message(c: &Checkpoint) -> Vec<u8> {
    let signed_at = c.signed_at.unwrap_or_default();
    let mut message = b"icr-consent checkpoint v1\n".to_vec();
    message.extend_from_slice(&c.sequence.to_be_bytes());
    message.extend_from_slice(&c.event_position.to_be_bytes());
    message.extend_from_slice(&c.event_hash);
    message.extend_from_slice(&c.audit_position.to_be_bytes());
    message.extend_from_slice(&c.audit_hash);
    message.extend_from_slice(&signed_at.seconds.to_be_bytes());
    message.extend_from_slice(&signed_at.nanos.to_be_bytes());
    message
}

/// Fills in `public_key` and `signature`.
pub fn sign_checkpoint(key: &SigningKey, checkpoint: &mut Checkpoint) {
    checkpoint.public_key = key.verifying_key().to_bytes().to_vec();
    checkpoint.signature = key.sign(&checkpoint_message(checkpoint)).to_vec();
}

/// Checks that `checkpoint` was signed by `key` and names no other signer.
/// The reason given on failure says whether the checkpoint was altered or
/// only signed by another key ([`crate::key_mismatch`] finds the latter
/// first, so that a wrong key is not reported as tampering).
pub fn verify_checkpoint(key: &VerifyingKey, checkpoint: &Checkpoint) -> Result<(), String> {
    let named = checkpoint.public_key.as_slice();
    let given = || key_fingerprint(key.as_bytes());
    if !matches!(named.len(), 0 | 32) {
        return Err("the key it names as its signer is not 32 bytes: it was altered".into());
    }
    let signature = Signature::from_slice(&checkpoint.signature)
        .map_err(|_| "its signature is not 64 bytes: it was altered".to_string())?;
    let verifies = key
        .verify(&checkpoint_message(checkpoint), &signature)
        .is_ok();
    match (verifies, named) {
        (true, []) => Ok(()),
        (true, named) if named == key.as_bytes() => Ok(()),
        (true, named) => Err(format!(
            "it names key {} as its signer but was signed by key {}: the checkpoint was altered",
            key_fingerprint(named),
            given()
        )),
        (false, named) if named == key.as_bytes() => Err(format!(
            "its signature does not verify under key {}, which signed it: the checkpoint was \
             altered",
            given()
        )),
        (false, []) => Err(format!(
            "it does not verify under key {}; either the key is not the one that signed, or \
             the checkpoint was altered (it does not record which key signed it)",
            given()
        )),
        (false, named) => Err(format!(
            "signed by key {}, not by key {}",
            key_fingerprint(named),
            given()
        )),
    }
}

/// Where and why a chain or checkpoint breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    /// Which chain.
    pub chain: Chain,
    /// The first position that does not verify.
    pub position: u64,
    /// What is wrong there.
    pub reason: String,
}

impl std::fmt::Display for Break {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} chain breaks at {} {}: {}",
            self.chain.name(),
            if self.chain == Chain::Checkpoints {
                "sequence"
            } else {
                "position"
            },
            self.position,
            self.reason
        )
    }
}

/// Walks one chain item by item, in position order, recomputing each hash.
#[derive(Debug, Clone)]
pub struct ChainWalk {
    chain: Chain,
    /// Last position verified (0 before the first).
    position: u64,
    /// Recomputed chain hash at `position`.
    hash: ChainHash,
}

impl ChainWalk {
    /// A walk from the start of `chain`.
    pub fn new(chain: Chain) -> Self {
        Self {
            chain,
            position: 0,
            hash: chain.genesis(),
        }
    }

    /// The chain walked.
    pub fn chain(&self) -> Chain {
        self.chain
    }

    /// Last position verified.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Recomputed chain hash at [`ChainWalk::position`].
    pub fn hash(&self) -> ChainHash {
        self.hash
    }

    /// The break at the next expected position.
    pub fn broken(&self, reason: impl Into<String>) -> Break {
        Break {
            chain: self.chain,
            position: self.position + 1,
            reason: reason.into(),
        }
    }

    /// Verifies the next item: stored under `key_position`, claiming
    /// `item_position`, encoded as `bytes`, with `stored_hash` kept beside
    /// it. Returns the recomputed hash.
    pub fn push(
        &mut self,
        key_position: u64,
        item_position: u64,
        bytes: &[u8],
        stored_hash: &[u8],
    ) -> Result<ChainHash, Break> {
        let expected = self.position + 1;
        if key_position != expected {
            return Err(self.broken(format!(
                "{} {expected} is missing (next stored is {key_position})",
                self.chain.name()
            )));
        }
        if item_position != expected {
            return Err(self.broken(format!(
                "stored at {expected} but records position {item_position}"
            )));
        }
        let hash = link(&self.hash, bytes);
        if stored_hash != hash {
            return Err(self.broken("content does not match its chain hash"));
        }
        self.position = expected;
        self.hash = hash;
        Ok(hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_checkpoint_verifies_and_any_change_breaks_it() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let mut checkpoint = Checkpoint {
            sequence: 1,
            event_position: 3,
            event_hash: vec![1; 32],
            ..Default::default()
        };
        sign_checkpoint(&key, &mut checkpoint);
        assert_eq!(verify_checkpoint(&key.verifying_key(), &checkpoint), Ok(()));
        let mut moved = checkpoint.clone();
        moved.event_position = 4;
        assert!(verify_checkpoint(&key.verifying_key(), &moved).is_err());
        let other = SigningKey::from_bytes(&[8; 32]).verifying_key();
        assert!(verify_checkpoint(&other, &checkpoint).is_err());
    }

    #[test]
    fn a_walk_names_the_first_bad_position() {
        let items: Vec<Vec<u8>> = (1..=3u8).map(|i| vec![i; 4]).collect();
        let mut hashes = Vec::new();
        let mut previous = Chain::Events.genesis();
        for item in &items {
            previous = link(&previous, item);
            hashes.push(previous);
        }
        let mut walk = ChainWalk::new(Chain::Events);
        walk.push(1, 1, &items[0], &hashes[0]).expect("first");
        let broken = walk.push(2, 2, &items[2], &hashes[1]).expect_err("changed");
        assert_eq!(broken.position, 2);
        let missing = walk.push(3, 3, &items[2], &hashes[2]).expect_err("gap");
        assert_eq!(missing.position, 2);
        walk.push(2, 2, &items[1], &hashes[1]).expect("second");
        assert_eq!(walk.position(), 2);
        assert_ne!(Chain::Events.genesis(), Chain::Decisions.genesis());
    }
}

//! Signed checkpoints and chain verification on the sled log.
//!
//! Checkpoints live in their own tree, keyed by sequence (u64 BE). Each one
//! signs the durable heads of both chains with the service's ed25519 key.

use std::future::Future;
use std::sync::atomic::AtomicBool;

use ed25519_dalek::{SigningKey, VerifyingKey};
use icr_proto::pb::Checkpoint;
use prost::Message;

use crate::chain::{Break, Chain, ChainHash, link, sign_checkpoint};
use crate::integrity::Failure;
use crate::keys::{self, decode_u64};
use crate::verify::Verification;
use crate::{KeyMismatch, LogError, SledLog};

/// Publishing and reading signed checkpoints of the hash chains.
pub trait TamperEvidence: Send + Sync + 'static {
    /// Signs the durable heads of both chains and stores the checkpoint;
    /// returns once it is durable. `None` when nothing was added since the
    /// last checkpoint.
    fn checkpoint(
        &self,
        key: &SigningKey,
    ) -> impl Future<Output = Result<Option<Checkpoint>, LogError>> + Send;

    /// Up to `limit` checkpoints from sequence `from` on.
    fn checkpoints(
        &self,
        from: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Checkpoint>, LogError>> + Send;
}

fn decode_checkpoint(bytes: &[u8], sequence: u64) -> Result<Checkpoint, LogError> {
    Checkpoint::decode(bytes).map_err(|source| LogError::Corrupt {
        key: format!("checkpoint {sequence}"),
        source,
    })
}

impl SledLog {
    /// Recomputes both hash chains from the stored bytes, checks every
    /// checkpoint against them (and its signature against `key`, when
    /// given), and checks every index against the chained items.
    /// `Ok(Err(break))` names the first position that does not verify;
    /// `Err` is a storage failure. Blocking: reads everything.
    pub fn verify(
        &self,
        key: Option<&VerifyingKey>,
    ) -> Result<Result<Verification, Break>, LogError> {
        self.verify_until_stopped(key, &AtomicBool::new(false))
    }

    /// Recomputes the event chain after `position`, whose chain hash the
    /// caller trusts as `hash` (e.g. from a signed snapshot), up to the
    /// durable head; returns the head. Checks no checkpoints or indexes:
    /// a quick check of a tail, not a replacement for [`SledLog::verify`].
    pub fn verify_events_after(
        &self,
        position: u64,
        hash: &[u8],
    ) -> Result<Result<u64, Break>, LogError> {
        let broken = |position: u64, reason: &str| {
            Ok(Err(Break {
                chain: Chain::Events,
                position,
                reason: reason.to_owned(),
            }))
        };
        let head = self.head();
        let Ok(mut previous) = ChainHash::try_from(hash) else {
            return broken(position, "no chain hash to start from");
        };
        if position >= head {
            return Ok(Ok(head));
        }
        let mut expected = position + 1;
        let range = keys::event(expected)..=keys::event(head);
        for entry in self.inner.tree.range(range) {
            let (key, value) = entry?;
            let at = decode_u64(&key[1..]).unwrap_or(0);
            let Some((stored, bytes)) = keys::unseal(&value).filter(|_| at == expected) else {
                return broken(expected, "missing or out of place");
            };
            if link(&previous, bytes) != stored {
                return broken(at, "does not match its chain hash");
            }
            (previous, expected) = (stored, expected + 1);
        }
        if expected <= head {
            return broken(expected, "missing");
        }
        Ok(Ok(head))
    }

    /// Whether the stored checkpoints were signed by another key than
    /// `key` ([`crate::key_mismatch`]): to be asked before
    /// [`SledLog::verify`], so that a wrong key is reported as such and not
    /// as tampering. A checkpoint that cannot be decoded is left to
    /// `verify`.
    pub fn key_mismatch(&self, key: &VerifyingKey) -> Result<Option<KeyMismatch>, LogError> {
        let mut checkpoints = Vec::new();
        for entry in self.inner.checkpoints.iter() {
            let (_, value) = entry?;
            checkpoints.extend(Checkpoint::decode(value.as_ref()).ok());
        }
        Ok(crate::key_mismatch(key, &checkpoints))
    }

    /// [`SledLog::verify`], ending early with [`LogError::Stopped`] once
    /// `stop` is set (e.g. when the service shuts down mid-check).
    pub fn verify_until_stopped(
        &self,
        key: Option<&VerifyingKey>,
        stop: &AtomicBool,
    ) -> Result<Result<Verification, Break>, LogError> {
        match self.check(key, stop) {
            Ok(verified) => Ok(Ok(verified)),
            Err(Failure::Broken(broken)) => Ok(Err(broken)),
            Err(Failure::Storage(error)) => Err(error),
        }
    }
}

impl TamperEvidence for SledLog {
    async fn checkpoint(&self, key: &SigningKey) -> Result<Option<Checkpoint>, LogError> {
        let checkpoint = {
            let inner = &self.inner;
            let _signing = inner.signing.lock().unwrap_or_else(|p| p.into_inner());
            let last = match inner.checkpoints.last()? {
                Some((k, v)) => Some(decode_checkpoint(&v, decode_u64(&k).unwrap_or(0))?),
                None => None,
            };
            let event_position = self.head();
            let audit_position = *inner.audit.durable.borrow();
            let unchanged = last.as_ref().is_some_and(|c| {
                c.event_position == event_position && c.audit_position == audit_position
            });
            if unchanged {
                return Ok(None);
            }
            let hash_at = |tree: &sled::Tree, prefix: u8, position: u64| {
                keys::head_hash(tree, prefix, position)
                    .map(|hash| hash.map_or_else(Vec::new, |hash| hash.to_vec()))
            };
            let mut checkpoint = Checkpoint {
                sequence: last.map_or(1, |c| c.sequence + 1),
                event_position,
                event_hash: hash_at(&inner.tree, keys::EVENT, event_position)?,
                audit_position,
                audit_hash: hash_at(&inner.audit_tree, crate::audit_keys::RECORD, audit_position)?,
                signed_at: Some(crate::tip::now()),
                public_key: Vec::new(),
                signature: Vec::new(),
            };
            sign_checkpoint(key, &mut checkpoint);
            let sequence_key = checkpoint.sequence.to_be_bytes();
            inner
                .checkpoints
                .insert(sequence_key, checkpoint.encode_to_vec())?;
            checkpoint
        };
        let _flushing = self.inner.flushing.lock().await;
        self.flush_now().await?;
        Ok(Some(checkpoint))
    }

    async fn checkpoints(&self, from: u64, limit: usize) -> Result<Vec<Checkpoint>, LogError> {
        let start = from.max(1).to_be_bytes();
        self.inner
            .checkpoints
            .range(start..)
            .take(limit)
            .map(|entry| {
                let (key, value) = entry?;
                decode_checkpoint(&value, decode_u64(&key).unwrap_or(0))
            })
            .collect()
    }
}

#[cfg(test)]
#[path = "tamper_tests.rs"]
mod tests;

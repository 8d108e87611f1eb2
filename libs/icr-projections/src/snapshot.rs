//! Snapshots: the projections at one log position, written to bytes and
//! read back, so a restart replays only the events after it.
//!
//! A snapshot is an accelerator, never a source of truth. It names the log
//! position it was taken at and that event's chain hash, so a reader can
//! check it belongs to the log it is about to follow; every part carries a
//! SHA-256 digest, and the header digest can be signed. Anything that does
//! not check out is refused, and the caller replays the log instead.
//!
//! Layout: magic (7 bytes), format version (1 byte, [`SNAPSHOT_FORMAT`]), header
//! length (u32 LE), header (postcard, opening with the event kinds the state
//! was folded with, [`icr_events::EVENT_KINDS`]), SHA-256 of everything before it (so
//! the signature covers the version too), signature length (u16 LE),
//! signature, then the patient chunks. The version is read before anything
//! else, so a snapshot of another format is refused as such, never parsed
//! as this one. Chunks are independent, so they are encoded and decoded on
//! every core.

use std::sync::Arc;

use icr_events::{EVENT_KINDS, NhsNumber, Patient};
use icr_proto::pb::EventPayload;
use prost::Message;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Patients, PolicyState, Projections};

/// First bytes of every snapshot; the byte after them is the format.
const MAGIC: &[u8; 7] = b"ICRSNAP";
/// The snapshot format this build writes and reads, stored in the byte
/// after `MAGIC`.
///
/// Bump it with any change to what a snapshot encodes that is not a change
/// of the event kinds: this file's layout, or how `Patient` or `PolicyState`
/// (or anything in them) serialise, or what an existing kind does to them.
/// A build then skips the older snapshots, naming both formats, and folds
/// the log from the start: slower, never different. A new event kind, or a
/// kind's new schema version, needs no bump: the header records the kinds
/// the state was folded with, and a build that folds other kinds refuses
/// the snapshot the same way ([`SnapshotError::EventKinds`]).
///
/// Snapshots written before the format moved here (formats 1 and 2 kept it
/// inside the header) have a NUL byte in its place, so they read as format
/// 0; numbering goes on from 3 so that no number means two layouts. Format
/// 4 added the event kinds to the header.
pub const SNAPSHOT_FORMAT: u8 = 4;
/// Patients per chunk.
const CHUNK: usize = 65_536;

/// Why a snapshot cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Not a snapshot, or damaged.
    #[error("not a readable snapshot: {0}")]
    Unreadable(String),
    /// A snapshot of another format (0: written before the format was
    /// stored at the start of the file), read no further.
    #[error("format v{found}, this build reads v{reads}")]
    Format {
        /// The format the file says it has.
        found: u8,
        /// The format this build reads: [`SNAPSHOT_FORMAT`].
        reads: u8,
    },
    /// Folded by a build with other event kinds: its state may hold what
    /// this build would fold differently (an event it could not read, or a
    /// field this build's state lacks), so it is read no further.
    #[error(
        "folded with other event kinds (this build does not fold {unknown:?}, the snapshot's build did not fold {missing:?})"
    )]
    EventKinds {
        /// Kinds (`Name v1`) the snapshot's build folded and this one does not.
        unknown: Vec<String>,
        /// Kinds this build folds and the snapshot's build did not.
        missing: Vec<String>,
    },
    /// The caller's check of the header refused it (e.g. a bad signature).
    #[error("snapshot refused: {0}")]
    Refused(String),
}

fn unreadable(what: impl std::fmt::Display) -> SnapshotError {
    SnapshotError::Unreadable(what.to_string())
}

/// What a snapshot says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Log position of the last event folded into it.
    pub position: u64,
    /// Chain hash of the event at `position` (empty at position 0).
    pub chain_hash: Vec<u8>,
    /// Patients it holds.
    pub patients: u64,
    /// SHA-256 of the header, which holds the digest of every chunk: what a
    /// signature signs.
    pub digest: [u8; 32],
}

#[derive(Serialize, Deserialize)]
struct Header {
    /// The event kinds (type name, schema version) the state was folded with.
    event_kinds: Vec<(String, u32)>,
    position: u64,
    chain_hash: Vec<u8>,
    patients: u64,
    /// The latest event of each policy stream: (position, encoded payload).
    policy: Vec<(u64, Vec<u8>)>,
    chunks: Vec<Chunk>,
}

#[derive(Serialize, Deserialize)]
struct Chunk {
    bytes: u64,
    digest: [u8; 32],
}

/// Runs `work` over `items` on every core, keeping the order of results.
fn on_every_core<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_thread = items.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(per_thread)
            .map(|part| scope.spawn(|| part.iter().map(&work).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

impl Projections {
    /// Encodes a snapshot of this state. `chain_hash` is the chain hash of
    /// the event at [`Projections::position`]; `sign` is given the header
    /// digest and returns a signature, or nothing.
    pub fn encode_snapshot(
        &self,
        chain_hash: &[u8],
        sign: impl FnOnce(&[u8; 32]) -> Vec<u8>,
    ) -> Vec<u8> {
        let event_kinds = EVENT_KINDS
            .iter()
            .map(|&(name, version)| (name.to_owned(), version));
        self.encode_folded_with(event_kinds.collect(), chain_hash, sign)
    }

    /// [`Projections::encode_snapshot`], saying the state was folded with
    /// `event_kinds`.
    fn encode_folded_with(
        &self,
        event_kinds: Vec<(String, u32)>,
        chain_hash: &[u8],
        sign: impl FnOnce(&[u8; 32]) -> Vec<u8>,
    ) -> Vec<u8> {
        let patients: Vec<(&NhsNumber, &Patient)> = self.patients.iter().collect();
        let groups: Vec<_> = patients.chunks(CHUNK).collect();
        // Serialising owned data into a Vec cannot fail.
        let chunks = on_every_core(&groups, |group| {
            postcard::to_stdvec(group).unwrap_or_default()
        });
        let header = Header {
            event_kinds,
            position: self.position,
            chain_hash: chain_hash.to_vec(),
            patients: patients.len() as u64,
            policy: self
                .policy
                .latest_events()
                .into_iter()
                .map(|(position, payload)| (position, payload.encode_to_vec()))
                .collect(),
            chunks: chunks
                .iter()
                .map(|c| Chunk {
                    bytes: c.len() as u64,
                    digest: Sha256::digest(c).into(),
                })
                .collect(),
        };
        let header = postcard::to_stdvec(&header).unwrap_or_default();
        let mut out =
            Vec::with_capacity(64 + header.len() + chunks.iter().map(Vec::len).sum::<usize>());
        out.extend_from_slice(MAGIC);
        out.push(SNAPSHOT_FORMAT);
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        out.extend_from_slice(&header);
        let digest: [u8; 32] = Sha256::digest(&out).into();
        out.extend_from_slice(&digest);
        let signature = sign(&digest);
        out.extend_from_slice(&(signature.len() as u16).to_le_bytes());
        out.extend_from_slice(&signature);
        chunks.iter().for_each(|c| out.extend_from_slice(c));
        out
    }

    /// Reads a snapshot back. `check` sees what the snapshot says about
    /// itself and its signature (empty when unsigned) before anything else
    /// is decoded, and may refuse it.
    pub fn decode_snapshot(
        bytes: &[u8],
        check: impl FnOnce(&Snapshot, &[u8]) -> Result<(), String>,
    ) -> Result<(Self, Snapshot), SnapshotError> {
        Self::decode_format(bytes, SNAPSHOT_FORMAT, check)
    }

    /// [`Projections::decode_snapshot`] for a reader of format `reads`.
    fn decode_format(
        bytes: &[u8],
        reads: u8,
        check: impl FnOnce(&Snapshot, &[u8]) -> Result<(), String>,
    ) -> Result<(Self, Snapshot), SnapshotError> {
        let mut rest = bytes;
        let mut take = |n: usize, what: &str| -> Result<&[u8], SnapshotError> {
            if rest.len() < n {
                return Err(unreadable(format!("cut short in the {what}")));
            }
            let (taken, after) = rest.split_at(n);
            rest = after;
            Ok(taken)
        };
        if take(MAGIC.len(), "magic")? != MAGIC {
            return Err(unreadable("wrong magic"));
        }
        let found = take(1, "format")?[0];
        if found != reads {
            return Err(SnapshotError::Format { found, reads });
        }
        let length = take(4, "header length")?;
        let length = u32::from_le_bytes(length.try_into().map_err(unreadable)?) as usize;
        let header_bytes = take(length, "header")?;
        // Magic and format included: the signature covers the version.
        let digest: [u8; 32] = Sha256::digest(&bytes[..MAGIC.len() + 1 + 4 + length]).into();
        if take(32, "header digest")? != digest {
            return Err(unreadable("header digest does not match"));
        }
        let length = take(2, "signature length")?;
        let signature = take(
            u16::from_le_bytes(length.try_into().map_err(unreadable)?).into(),
            "signature",
        )?;
        let header: Header = postcard::from_bytes(header_bytes).map_err(unreadable)?;
        check_event_kinds(&header.event_kinds)?;
        let snapshot = Snapshot {
            position: header.position,
            chain_hash: header.chain_hash.clone(),
            patients: header.patients,
            digest,
        };
        check(&snapshot, signature).map_err(SnapshotError::Refused)?;
        let mut parts = Vec::with_capacity(header.chunks.len());
        for chunk in &header.chunks {
            let length = usize::try_from(chunk.bytes).map_err(unreadable)?;
            parts.push((take(length, "patients")?, chunk.digest));
        }
        if !rest.is_empty() {
            return Err(unreadable("bytes after the last chunk"));
        }
        let decoded = on_every_core(&parts, |(part, digest)| {
            if Sha256::digest(part).as_slice() != digest {
                return Err(unreadable("a patient chunk's digest does not match"));
            }
            let patients: Vec<(NhsNumber, Patient)> =
                postcard::from_bytes(part).map_err(unreadable)?;
            Ok(patients
                .into_iter()
                .map(|(n, p)| (n, Arc::new(p)))
                .collect::<Vec<_>>())
        });
        let decoded: Vec<_> = decoded.into_iter().collect::<Result<_, _>>()?;
        let patients = Patients::from_unique(decoded.into_iter().flatten())
            .ok_or_else(|| unreadable("a patient appears twice"))?;
        if patients.len() as u64 != header.patients {
            return Err(unreadable("patient count does not match the header"));
        }
        let mut policy = PolicyState::default();
        for (position, payload) in &header.policy {
            let payload = EventPayload::decode(payload.as_slice()).map_err(unreadable)?;
            if position > &header.position || !PolicyState::is_policy_event(&payload) {
                return Err(unreadable(format!(
                    "policy event at position {position} does not belong"
                )));
            }
            policy.apply(*position, &payload);
        }
        let projections = Self {
            position: header.position,
            patients,
            policy,
        };
        Ok((projections, snapshot))
    }
}

/// Refuses a snapshot folded with other event kinds than this build's.
fn check_event_kinds(folded_with: &[(String, u32)]) -> Result<(), SnapshotError> {
    let named = |(name, version): (&str, u32)| format!("{name} v{version}");
    let mut ours: Vec<String> = EVENT_KINDS.iter().copied().map(named).collect();
    let mut theirs: Vec<String> = folded_with
        .iter()
        .map(|(name, version)| named((name, *version)))
        .collect();
    // The order of the list does not change what a fold does.
    ours.sort();
    theirs.sort();
    if ours == theirs {
        return Ok(());
    }
    Err(SnapshotError::EventKinds {
        unknown: theirs
            .iter()
            .filter(|k| !ours.contains(k))
            .cloned()
            .collect(),
        missing: ours
            .iter()
            .filter(|k| !theirs.contains(k))
            .cloned()
            .collect(),
    })
}

#[cfg(test)]
#[path = "snapshot_tests.rs"]
mod tests;

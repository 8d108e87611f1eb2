//! The record of what was acknowledged: the heads of both chains (position
//! and chain hash) as of the last flush whose writes were acknowledged,
//! kept in a small file beside sled's, `acknowledged-heads`.
//!
//! sled recovers a log after a crash by replaying its file up to the first
//! record that fails its checksum and dropping everything after it, without
//! a word: a damaged sector in the tail silently takes acknowledged events
//! and decisions with it. This record does not depend on sled, so the log
//! can be compared with it when it opens (see [`crate::opening`]).
//!
//! Each flush writes the record after sled's flush and the `fdatasync` of
//! `db` succeeded, and syncs it before any writer is answered: one small
//! `pwrite` and one `fdatasync` more per flush (group commit shares them
//! between all the writes of the flush). The record then never claims more
//! than is durable in the log, and everything acknowledged is in it.
//!
//! The file holds two slots of 512 bytes (a sector each), written in turn,
//! each with a sequence number and a SHA-256 checksum. A write torn by a
//! crash damages only the slot being written, whose flush was never
//! acknowledged; the other slot holds the flush before, which is what was
//! acknowledged. So a torn write neither refuses a good log nor lets a
//! short one pass. Both slots unreadable is damage to the file itself, not
//! a torn write, and is refused: what was acknowledged cannot be told.
//!
//! A file that is simply gone (a file-system check, a backup copied without
//! it) must not pass for a directory that never had one, or a log that lost
//! its tail and the file together would open clean. So sled itself holds a
//! mark ([`mark`]) that the record is kept: a directory marked and without
//! the file is refused, and only a directory neither marked nor holding the
//! file (new, or written before the record existed) gets a new one.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use sha2::{Digest, Sha256};

use crate::chain::ChainHash;

/// The record's file name in the data directory.
pub const FILE_NAME: &str = "acknowledged-heads";

/// Bytes between the two slots: a sector each, so a torn write of one
/// cannot touch the other.
const SLOT: u64 = 512;
/// Bytes of one slot's content.
const RECORD: usize = 128;
/// The first bytes of a slot (format version 1).
const MAGIC: &[u8; 8] = b"icr-ack1";
/// The sled tree holding the mark that the record is kept, and its key.
const MARK_TREE: &[u8] = b"acknowledged";
const MARK_KEY: &[u8] = b"kept in";

/// The heads of both chains: how far each was acknowledged, with the chain
/// hash stored at that position (zeros for an empty chain).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Heads {
    /// Last event position.
    pub events: u64,
    /// Chain hash of that event.
    pub event_hash: ChainHash,
    /// Last decision record position.
    pub decisions: u64,
    /// Chain hash of that decision record.
    pub decision_hash: ChainHash,
}

/// One slot's content: magic, sequence, the heads, then the SHA-256 of all
/// that. Integers big-endian.
fn encode(sequence: u64, heads: &Heads) -> [u8; RECORD] {
    let mut slot = [0; RECORD];
    slot[..8].copy_from_slice(MAGIC);
    slot[8..16].copy_from_slice(&sequence.to_be_bytes());
    slot[16..24].copy_from_slice(&heads.events.to_be_bytes());
    slot[24..56].copy_from_slice(&heads.event_hash);
    slot[56..64].copy_from_slice(&heads.decisions.to_be_bytes());
    slot[64..96].copy_from_slice(&heads.decision_hash);
    let checksum: [u8; 32] = Sha256::digest(&slot[..96]).into();
    slot[96..].copy_from_slice(&checksum);
    slot
}

/// A slot's sequence and heads, if it is whole.
fn decode(slot: &[u8]) -> Option<(u64, Heads)> {
    let slot = slot.get(..RECORD)?;
    let checksum: [u8; 32] = Sha256::digest(&slot[..96]).into();
    if &slot[..8] != MAGIC || slot[96..] != checksum {
        return None;
    }
    let u64_at = |at: usize| slot[at..at + 8].try_into().ok().map(u64::from_be_bytes);
    let hash_at = |at: usize| slot[at..at + 32].try_into().ok();
    Some((
        u64_at(8)?,
        Heads {
            events: u64_at(16)?,
            event_hash: hash_at(24)?,
            decisions: u64_at(56)?,
            decision_hash: hash_at(64)?,
        },
    ))
}

/// The newest whole slot of the record in `dir`: `Ok(None)` when there is
/// no record, `Err(InvalidData)` when neither slot is whole. One slot
/// damaged is logged as a warning ([`one_slot_damaged`]).
fn read_newest(dir: &Path) -> io::Result<Option<(u64, Heads)>> {
    let path = dir.join(FILE_NAME);
    let bytes = match std::fs::read(&path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        read => read?,
    };
    let slots = [0, SLOT as usize].map(|at| bytes.get(at..).and_then(decode));
    if let [Some((sequence, _)), None] | [None, Some((sequence, _))] = slots {
        tracing::warn!("{}", one_slot_damaged(&path, sequence));
    }
    slots
        .into_iter()
        .flatten()
        .max_by_key(|(sequence, _)| *sequence)
        .map(Some)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "neither slot is whole"))
}

/// What one damaged slot means, when the other, holding flush `sequence`,
/// is whole: the damaged one is where the next flush was being written.
fn one_slot_damaged(path: &Path, sequence: u64) -> String {
    let damaged = (sequence + 1) % 2;
    let start = damaged * SLOT;
    format!(
        "slot {damaged} (bytes {start}–{}) of the record of what was acknowledged ({}) is \
         damaged; the log is compared with the other slot, flush {sequence}. A write torn by \
         a crash leaves this, and the damaged slot's flush was then never acknowledged; if \
         the service did not crash, the file itself is being damaged: check the disk",
        start + RECORD as u64 - 1,
        path.display()
    )
}

/// Whether sled holds the mark that this log keeps a record of what was
/// acknowledged. Read without creating the mark's tree.
pub(crate) fn marked(db: &sled::Db) -> sled::Result<bool> {
    if !db.tree_names().iter().any(|name| name == MARK_TREE) {
        return Ok(false);
    }
    db.open_tree(MARK_TREE)?.contains_key(MARK_KEY)
}

/// Marks in sled that this log keeps a record of what was acknowledged, and
/// makes the mark durable (`sync`: sled's `db` file, see `DiskSync`). Call
/// once the record's file is durable: a crash between the two leaves a
/// file without a mark, which the next open marks, never a mark without
/// its file, which would refuse a good log.
pub(crate) fn mark(db: &sled::Db, sync: impl FnOnce() -> io::Result<()>) -> sled::Result<()> {
    db.open_tree(MARK_TREE)?
        .insert(MARK_KEY, FILE_NAME.as_bytes())?;
    db.flush()?;
    sync().map_err(sled::Error::Io)
}

/// Moves the record in `dir`, if there is one, aside to
/// `acknowledged-heads.replaced` (kept for investigation); the name it was
/// moved to.
pub(crate) fn move_aside(dir: &Path) -> io::Result<Option<PathBuf>> {
    let aside = dir.join(format!("{FILE_NAME}.replaced"));
    match std::fs::rename(dir.join(FILE_NAME), &aside) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        moved => moved.map(|()| Some(aside)),
    }
}

/// Reads the acknowledged heads recorded in `dir`, if there is a record;
/// `Err(InvalidData)` when it is damaged.
pub(crate) fn read(dir: &Path) -> io::Result<Option<Heads>> {
    Ok(read_newest(dir)?.map(|(_, heads)| heads))
}

/// The open record, written at every flush.
pub(crate) struct Acknowledged {
    file: File,
    /// Sequence and heads of the newest slot.
    newest: Mutex<(u64, Heads)>,
    /// Set once a write or sync failed: nothing more is claimed (see
    /// `DiskSync::failed`).
    failed: AtomicBool,
}

impl Acknowledged {
    /// Opens the record in `dir`, with the heads it holds; `Ok(None)` when
    /// there is none yet (a new directory, or one from a version that kept
    /// none).
    pub(crate) fn open(dir: &Path) -> io::Result<Option<Self>> {
        let Some(newest) = read_newest(dir)? else {
            return Ok(None);
        };
        let file = OpenOptions::new().write(true).open(dir.join(FILE_NAME))?;
        Ok(Some(Self::with(file, newest)))
    }

    /// Creates the record in `dir` holding `heads`, atomically: written and
    /// synced under a temporary name, renamed, and the directory synced.
    pub(crate) fn create(dir: &Path, heads: &Heads) -> io::Result<Self> {
        let temporary = dir.join(format!("{FILE_NAME}.new"));
        let file = File::create(&temporary)?;
        // Both slots whole from the start: a later torn write of either
        // leaves the other.
        file.write_all_at(&encode(0, heads), 0)?;
        file.write_all_at(&encode(1, heads), SLOT)?;
        file.sync_all()?;
        std::fs::rename(&temporary, dir.join(FILE_NAME))?;
        File::open(dir)?.sync_all()?;
        Ok(Self::with(file, (1, *heads)))
    }

    fn with(file: File, newest: (u64, Heads)) -> Self {
        Self {
            file,
            newest: Mutex::new(newest),
            failed: AtomicBool::new(false),
        }
    }

    /// The heads recorded last.
    pub(crate) fn heads(&self) -> Heads {
        self.lock().1
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (u64, Heads)> {
        self.newest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records `heads` durably, in the slot not holding the newest record;
    /// nothing is written when they are the heads recorded last. Call only
    /// once everything up to `heads` is durable in the log, and before it is
    /// acknowledged.
    pub(crate) fn record(&self, heads: &Heads) -> io::Result<()> {
        if self.failed.load(Ordering::Acquire) {
            return Err(io::Error::other(
                "an earlier write of the acknowledged heads failed; reopen the log to go on",
            ));
        }
        let mut newest = self.lock();
        // Flushes are serialised, so heads only grow; never write one back.
        let behind = heads.events < newest.1.events || heads.decisions < newest.1.decisions;
        if newest.1 == *heads || behind {
            return Ok(());
        }
        let sequence = newest.0 + 1;
        let written = self
            .file
            .write_all_at(&encode(sequence, heads), (sequence % 2) * SLOT)
            .and_then(|()| self.file.sync_data());
        match written {
            Ok(()) => *newest = (sequence, *heads),
            Err(_) => self.failed.store(true, Ordering::Release),
        }
        written
    }
}

#[cfg(test)]
#[path = "acknowledged_tests.rs"]
mod tests;

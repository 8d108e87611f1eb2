//! What sled's flush leaves out: asking the disk to keep what it was given.
//!
//! sled 0.34.7 writes its log into one file, `db`, with `pwrite`, and its
//! `flush` waits on `sync_file_range(WAIT_BEFORE | WRITE | WAIT_AFTER)` over
//! the bytes just written (sled issue 1452). That hands the pages to the
//! device but neither flushes the device's volatile write cache nor writes
//! the inode, whose size grows as the log grows: after a power loss an
//! acknowledged write can be gone, or lie past the end of a file whose size
//! was not updated. sled's own `fsync` of `db` runs only from its background
//! flusher (every 500 ms), when it truncates a segment, and when it
//! writes its page-table snapshot; its files (`conf`, `db`, `blobs/`,
//! `snap.*`) are created without syncing their directory.
//!
//! [`DiskSync`] closes that gap through a handle of our own: `fsync` acts on
//! the inode, not the descriptor, so `fdatasync` on our handle flushes what
//! sled wrote through its own. Values above about 128 KiB (a quarter of a
//! 512 KiB segment) go to their own files under `blobs/`, written without
//! any sync; no record we store comes near that size, but if one ever does,
//! its file and the directory are synced before the log that points at it.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Our own handles on the files of one sled database.
pub(crate) struct DiskSync {
    /// sled's log file.
    db: File,
    /// sled's directory for values too large to keep inline.
    blobs: PathBuf,
    /// Highest blob (named by its log sequence number) already synced.
    synced_blob: Mutex<Option<u64>>,
    /// Set once a sync failed. Linux may mark pages clean after a failed
    /// write-back, so a later `fdatasync` can succeed without the data ever
    /// reaching the disk: after one failure nothing more is claimed durable
    /// until the log is reopened (the service restarts).
    failed: AtomicBool,
}

impl DiskSync {
    /// Opens the database files in `dir`, which sled has just opened, and
    /// makes their existence durable: sled creates the directory, `conf`,
    /// `db` and `blobs/` without syncing any directory entry.
    pub(crate) fn open(dir: &Path) -> io::Result<Self> {
        let db = File::open(dir.join("db"))?;
        db.sync_all()?;
        sync_file(&dir.join("conf"))?;
        let blobs = dir.join("blobs");
        if blobs.is_dir() {
            sync_file(&blobs)?;
        }
        sync_file(dir)?;
        // The directory's own entry, in case sled just created it. A parent
        // the service may only traverse, not read, cannot be opened: its
        // operator made the directory beforehand.
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            match sync_file(parent) {
                Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {}
                synced => synced?,
            }
        }
        Ok(Self {
            db,
            blobs,
            synced_blob: Mutex::new(None),
            failed: AtomicBool::new(false),
        })
    }

    /// Makes everything sled's last flush wrote durable: new blob files and
    /// their directory first, then `db` with its size (`fdatasync`). Call
    /// after sled's `flush` returned, with flushes serialised.
    pub(crate) fn sync(&self) -> io::Result<()> {
        if self.failed.load(Ordering::Acquire) {
            return Err(io::Error::other(
                "an earlier sync of the log failed; reopen the log to go on",
            ));
        }
        let synced = self.sync_new_blobs().and_then(|()| self.db.sync_data());
        if synced.is_err() {
            self.failed.store(true, Ordering::Release);
        }
        synced
    }

    /// Syncs blob files newer than the last one synced, then the directory.
    /// A blob sled removed meanwhile (its value was rewritten) is skipped.
    fn sync_new_blobs(&self) -> io::Result<()> {
        let entries = match std::fs::read_dir(&self.blobs) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            entries => entries?,
        };
        let mut synced_blob = self
            .synced_blob
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut newest = *synced_blob;
        for entry in entries {
            let entry = entry?;
            let Some(lsn) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            if synced_blob.is_some_and(|synced| lsn <= synced) {
                continue;
            }
            match sync_file(&entry.path()) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                synced => synced?,
            }
            newest = newest.max(Some(lsn));
        }
        if newest != *synced_blob {
            sync_file(&self.blobs)?;
            *synced_blob = newest;
        }
        Ok(())
    }

    /// The log file's handle, for tests.
    #[cfg(test)]
    pub(crate) fn db_file(&self) -> &File {
        &self.db
    }
}

/// `fsync` of a file or directory (a directory's entries: files created or
/// renamed in it).
fn sync_file(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

#[cfg(test)]
#[path = "disk_tests.rs"]
mod tests;

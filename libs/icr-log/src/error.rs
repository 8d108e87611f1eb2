//! Log errors and what a caller should do about each.

use std::path::PathBuf;

use crate::damage::{Damage, Lost};

/// Why an append or read failed. The log is unchanged after every error but
/// [`LogError::Storage`] on a flush, where the outcome is unknown.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The stream moved on since the caller read it. Re-read and decide again.
    #[error("stream {stream} is at version {actual}, expected {expected}")]
    VersionConflict {
        /// The stream.
        stream: String,
        /// Version the caller expected.
        expected: u64,
        /// Version the stream is at.
        actual: u64,
    },
    /// The request id was used before for a different request. Use a new id.
    #[error("request id {0} was already used for a different request")]
    RequestIdReused(String),
    /// The request itself is malformed (e.g. no events). A bug in the caller.
    #[error("invalid append: {0}")]
    InvalidAppend(&'static str),
    /// A stored record could not be decoded: the store is damaged. Stop serving.
    #[error("stored record at {key} is unreadable: {source}")]
    Corrupt {
        /// Which record.
        key: String,
        /// The decoding error.
        source: prost::DecodeError,
    },
    /// An index points at a record that is not there: the store is damaged.
    /// Stop serving.
    #[error("log is inconsistent: {0}")]
    Inconsistent(String),
    /// A long read (verification) was stopped on request before it ended:
    /// nothing was concluded.
    #[error("stopped before it finished")]
    Stopped,
    /// Opening: records acknowledged earlier are missing from the log (or
    /// were replaced), as the record of acknowledged heads shows. Do not
    /// serve from it: restore the directory from a verified copy.
    #[error("{0}")]
    Lost(Box<Lost>),
    /// Opening: the storage engine refuses to read the directory, because
    /// it is damaged. Restore the directory from a verified copy.
    #[error("{0}")]
    Damaged(Box<Damage>),
    /// Opening: the record of acknowledged heads is damaged beyond its two
    /// copies, so whether acknowledged records are missing cannot be told.
    /// Restore the directory from a verified copy, or replace the record
    /// (`consent-cli verify --replace-acknowledged-record`) accepting that a
    /// tail lost before cannot be detected.
    #[error(
        "the record of what was acknowledged ({}) is damaged: neither of its two copies is \
         whole, so whether acknowledged records are missing cannot be told. To go on, {}",
        .0.join(crate::acknowledged::FILE_NAME).display(),
        crate::damage::RECORD_LOST
    )]
    AcknowledgedUnreadable(PathBuf),
    /// Opening: the record of acknowledged heads is gone from a directory
    /// that kept one (sled holds the mark), so whether acknowledged records
    /// are missing cannot be told. As for
    /// [`LogError::AcknowledgedUnreadable`].
    #[error(
        "the record of what was acknowledged ({}) is missing, though this log has kept one \
         (a file-system check, or a copy or backup made without it, can leave a directory \
         so): whether acknowledged records are missing cannot be told. To go on, {}",
        .0.join(crate::acknowledged::FILE_NAME).display(),
        crate::damage::RECORD_LOST
    )]
    AcknowledgedMissing(PathBuf),
    /// Opening: another process (a running service, or `consent-cli
    /// verify`) holds the directory. Stop it, or use a copy.
    #[error(
        "another consent-service (or consent-cli) is using this directory ({}): stop it \
         first, or work on a copy of the directory",
        .0.display()
    )]
    Locked(PathBuf),
    /// The storage engine failed. For an append, the outcome is unknown:
    /// retry with the same request id.
    #[error("storage: {0}")]
    Storage(#[from] sled::Error),
}

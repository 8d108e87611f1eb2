//! Log errors and what a caller should do about each.

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
    /// The storage engine failed. For an append, the outcome is unknown:
    /// retry with the same request id.
    #[error("storage: {0}")]
    Storage(#[from] sled::Error),
}

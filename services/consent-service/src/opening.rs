//! Opening the data directory: why it could not be opened, said once.

use std::path::Path;

use icr_log::LogError;

/// Why the log in `data_dir` could not be opened: the log's own words for
/// a log missing acknowledged records, damaged storage, a directory in
/// use, or a record of what was acknowledged unreadable or gone; otherwise the storage error after what was being done (not also its
/// source, which would repeat it).
pub(crate) fn refusal(error: LogError, data_dir: &Path) -> anyhow::Error {
    match error {
        LogError::Lost(_)
        | LogError::Damaged(_)
        | LogError::Locked(_)
        | LogError::AcknowledgedUnreadable(_)
        | LogError::AcknowledgedMissing(_) => anyhow::anyhow!("refusing to start: {error}"),
        other => anyhow::anyhow!("opening the event log in {}: {other}", data_dir.display()),
    }
}

//! Opening a data directory: sled's own refusals said plainly, and the log
//! compared with the record of what was acknowledged ([`crate::acknowledged`]).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use crate::LogError;
use crate::acknowledged::{self, Acknowledged, Heads};
use crate::chain::Chain;
use crate::damage::{Damage, Lost};
use crate::disk::DiskSync;
use crate::keys;

/// Opens the sled database in `path`, saying plainly why when it cannot.
/// sled releases a directory's lock from a background thread after its last
/// handle is dropped, so a reopen in the same process (a restart in place)
/// can briefly find it still held: a held lock is retried for up to a
/// second before it is reported.
pub(crate) fn open_db(path: &Path) -> Result<sled::Db, LogError> {
    let mut attempts = 0;
    loop {
        // sled may panic on a damaged file rather than return an error.
        let opened = catch_unwind(AssertUnwindSafe(|| sled::open(path)));
        let error = match opened {
            Ok(Ok(db)) => return Ok(db),
            Ok(Err(error)) => error,
            Err(_) => sled::Error::Corruption { at: None, bt: () },
        };
        match error {
            sled::Error::Io(e) if e.to_string().contains("could not acquire lock") => {
                if attempts == 20 {
                    return Err(LogError::Locked(path.to_owned()));
                }
                attempts += 1;
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            // sled says `Unsupported` of a `conf` file it cannot read as
            // text, and reports a bug when its recovery meets the
            // impossible: on a file that opened before, both are damage.
            sled::Error::Corruption { .. }
            | sled::Error::Unsupported(_)
            | sled::Error::ReportableBug(_) => {
                let (offset, blob) = match error {
                    sled::Error::Corruption { at: Some(at), .. } => match at {
                        sled::DiskPtr::Inline(offset) => (Some(offset), None),
                        sled::DiskPtr::Blob(offset, blob) => {
                            (Some(offset), u64::try_from(blob).ok())
                        }
                    },
                    _ => (None, None),
                };
                return Err(LogError::Damaged(Box::new(Damage {
                    dir: path.to_owned(),
                    offset,
                    blob,
                    acknowledged: acknowledged::read(path).ok().flatten(),
                })));
            }
            other => return Err(other.into()),
        }
    }
}

/// The heads of the log as stored: event head `events` in `log`, decision
/// head `decisions` in `audit`.
pub(crate) fn stored_heads(
    log: &sled::Tree,
    events: u64,
    audit: &sled::Tree,
    decisions: u64,
) -> Result<Heads, LogError> {
    Ok(Heads {
        events,
        event_hash: keys::head_hash(log, keys::EVENT, events)?.unwrap_or_default(),
        decisions,
        decision_hash: keys::head_hash(audit, crate::audit_keys::RECORD, decisions)?
            .unwrap_or_default(),
    })
}

/// How opening treats the record of what was acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keeping {
    /// Compare the log with it and keep it from then on (a new directory,
    /// or one from before the record existed, gets one).
    Keep,
    /// Compare the log with it, writing nothing: to verify a directory.
    Check,
    /// Record the log's heads in a new one, whatever is there: the
    /// operator accepts that a tail lost before now cannot be detected.
    Replace,
}

/// The log's own files: sled's database and our handle on its `db` file.
pub(crate) struct Storage<'a> {
    pub(crate) dir: &'a Path,
    pub(crate) db: &'a sled::Db,
    pub(crate) disk: &'a DiskSync,
    pub(crate) log: &'a sled::Tree,
    pub(crate) audit: &'a sled::Tree,
}

fn io_error(error: std::io::Error) -> LogError {
    LogError::Storage(sled::Error::Io(error))
}

/// Compares the log whose heads are `found` with the record of what was
/// acknowledged in its directory, and opens the record, moved on to
/// `found`. Refuses a log shorter than the record or holding something else
/// at a recorded head, a record that is unreadable, and a record that is
/// gone from a directory that kept one (sled holds the mark). A directory
/// that never kept one gets one, with a warning when its log is not empty:
/// a tail it lost before cannot be detected. `Ok(None)` only when checking
/// a directory that keeps none.
pub(crate) fn check_acknowledged(
    storage: &Storage<'_>,
    found: &Heads,
    keeping: Keeping,
) -> Result<Option<Acknowledged>, LogError> {
    let dir = storage.dir;
    let create = || -> Result<Acknowledged, LogError> {
        let record = Acknowledged::create(dir, found).map_err(io_error)?;
        acknowledged::mark(storage.db, || storage.disk.sync())?;
        Ok(record)
    };
    if keeping == Keeping::Replace {
        let aside = acknowledged::move_aside(dir).map_err(io_error)?;
        let record = create()?;
        tracing::warn!(
            dir = %dir.display(),
            kept_aside = ?aside,
            "the record of what was acknowledged was replaced by the log's heads (events up to \
             {}, decisions up to {}): a tail lost before now can no longer be detected",
            found.events,
            found.decisions
        );
        return Ok(Some(record));
    }
    let marked = acknowledged::marked(storage.db)?;
    let record = Acknowledged::open(dir).map_err(|error| match error.kind() {
        std::io::ErrorKind::InvalidData => LogError::AcknowledgedUnreadable(dir.to_owned()),
        _ => io_error(error),
    })?;
    let Some(record) = record else {
        if marked {
            return Err(LogError::AcknowledgedMissing(dir.to_owned()));
        }
        if keeping == Keeping::Check {
            return Ok(None);
        }
        if found.events > 0 || found.decisions > 0 {
            tracing::warn!(
                dir = %dir.display(),
                "this directory kept no record of what was acknowledged (it was written by \
                 an earlier version); one is kept from now on, holding events up to {} and \
                 decisions up to {}: a tail lost before now cannot be detected",
                found.events,
                found.decisions
            );
        }
        return create().map(Some);
    };
    compare(storage, &record.heads(), found)?;
    if keeping == Keeping::Keep {
        // A crash between creating the file and marking leaves it unmarked.
        if !marked {
            acknowledged::mark(storage.db, || storage.disk.sync())?;
        }
        record.record(found).map_err(sled::Error::Io)?;
    }
    Ok(Some(record))
}

/// Refuses a log, whose heads are `found`, shorter than `acknowledged` or
/// holding something else at an acknowledged head.
fn compare(storage: &Storage<'_>, acknowledged: &Heads, found: &Heads) -> Result<(), LogError> {
    let missing =
        |found: u64, acknowledged: u64| (found < acknowledged).then(|| found + 1..=acknowledged);
    let mut lost = Lost {
        dir: storage.dir.to_owned(),
        events: missing(found.events, acknowledged.events),
        decisions: missing(found.decisions, acknowledged.decisions),
        replaced: None,
    };
    let heads = [
        (
            Chain::Events,
            storage.log,
            keys::EVENT,
            acknowledged.events,
            acknowledged.event_hash,
            lost.events.is_some(),
        ),
        (
            Chain::Decisions,
            storage.audit,
            crate::audit_keys::RECORD,
            acknowledged.decisions,
            acknowledged.decision_hash,
            lost.decisions.is_some(),
        ),
    ];
    for (chain, tree, prefix, position, hash, short) in heads {
        // A chain that is short is named as such, not as replaced.
        if short || lost.replaced.is_some() {
            continue;
        }
        if keys::head_hash(tree, prefix, position)?.unwrap_or_default() != hash {
            lost.replaced = Some((chain, position));
        }
    }
    if lost.events.is_some() || lost.decisions.is_some() || lost.replaced.is_some() {
        return Err(LogError::Lost(Box::new(lost)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn a_damaged_blob_is_named_as_such() {
        let damage = |blob| Damage {
            dir: PathBuf::from("data"),
            offset: Some(4096),
            blob,
            acknowledged: None,
        };
        assert!(
            damage(Some(77)).to_string().contains(
                "(sled found corrupted data in `blobs/77`, the file of a large value that byte \
                 4096 of `db` points to)"
            ),
            "{}",
            damage(Some(77))
        );
        assert!(
            damage(None)
                .to_string()
                .contains("(sled found corrupted data at byte 4096 of `db`)")
        );
    }
}

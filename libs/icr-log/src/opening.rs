//! Opening a data directory: sled's own refusals said plainly, and the log
//! compared with the record of what was acknowledged ([`crate::acknowledged`]).

use std::fmt;
use std::ops::RangeInclusive;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use crate::LogError;
use crate::acknowledged::{self, Acknowledged, Heads};
use crate::chain::{Chain, ChainHash};
use crate::keys;

/// What to do about a directory that is damaged or short, in the words of
/// every message that refuses one.
const RESTORE: &str = "restore the directory from a verified copy or backup (check a copy with \
                       `consent-cli verify --data-dir COPY`) and keep this one for investigation";

/// Acknowledged records the log no longer holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lost {
    /// The data directory.
    pub dir: PathBuf,
    /// Event positions acknowledged but missing.
    pub events: Option<RangeInclusive<u64>>,
    /// Decision positions acknowledged but missing.
    pub decisions: Option<RangeInclusive<u64>>,
    /// A position, up to which the log is long enough, that holds something
    /// other than what was acknowledged there (its chain hash differs).
    pub replaced: Option<(Chain, u64)>,
}

/// "events 26–30", "event 30".
fn range(chain: Chain, positions: &RangeInclusive<u64>) -> String {
    let name = chain.name();
    match positions.start() == positions.end() {
        true => format!("{name} {}", positions.start()),
        false => format!("{name}s {}–{}", positions.start(), positions.end()),
    }
}

impl Lost {
    /// The missing ranges in words ("events 26–30 and decisions 1–3"), if
    /// any are missing.
    pub fn missing(&self) -> Option<String> {
        let parts: Vec<String> = [
            self.events.as_ref().map(|r| range(Chain::Events, r)),
            self.decisions.as_ref().map(|r| range(Chain::Decisions, r)),
        ]
        .into_iter()
        .flatten()
        .collect();
        (!parts.is_empty()).then(|| parts.join(" and "))
    }
}

impl fmt::Display for Lost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dir = self.dir.display();
        if let Some(missing) = self.missing() {
            write!(
                f,
                "{missing} were acknowledged but are missing from the log in {dir}: the \
                 storage lost them (after a crash, sled keeps its log only up to the first \
                 damaged record)"
            )?;
        }
        if let Some((chain, position)) = self.replaced {
            let joint = if self.missing().is_some() {
                "; and "
            } else {
                ""
            };
            write!(
                f,
                "{joint}{} {position} in the log in {dir} is not the one acknowledged there \
                 (its chain hash differs): the log was replaced or rewritten",
                chain.name()
            )?;
        }
        write!(f, ". To go on, {RESTORE}")
    }
}

/// Storage sled refuses to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// The data directory.
    pub dir: PathBuf,
    /// Byte offset in `db` where sled found damage, when it says.
    pub offset: Option<u64>,
    /// What was acknowledged, when the record of it could be read.
    pub acknowledged: Option<Heads>,
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dir = self.dir.display();
        write!(
            f,
            "the log in {dir} cannot be opened: its storage is damaged"
        )?;
        match self.offset {
            Some(offset) => write!(f, " (sled found corrupted data at byte {offset} of `db`)")?,
            None => write!(f, " (sled did not say where)")?,
        }
        match self.acknowledged {
            Some(heads) => write!(
                f,
                ". Events up to {} and decisions up to {} had been acknowledged; the copy \
                 restored must hold them",
                heads.events, heads.decisions
            )?,
            None => write!(f, ". No record of what was acknowledged is there")?,
        }
        write!(f, ". To go on, {RESTORE}")
    }
}

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
                let offset = match error {
                    sled::Error::Corruption { at: Some(at), .. } => Some(match at {
                        sled::DiskPtr::Inline(offset) | sled::DiskPtr::Blob(offset, _) => offset,
                    }),
                    _ => None,
                };
                return Err(LogError::Damaged(Box::new(Damage {
                    dir: path.to_owned(),
                    offset,
                    acknowledged: acknowledged::read(path).ok().flatten(),
                })));
            }
            other => return Err(other.into()),
        }
    }
}

/// The stored chain hash at `position` (zeros when the chain is empty or the
/// item has no readable hash).
fn hash_at(tree: &sled::Tree, prefix: u8, position: u64) -> Result<ChainHash, LogError> {
    if position == 0 {
        return Ok(ChainHash::default());
    }
    Ok(keys::stored_hash(tree, keys::positioned(prefix, position))?.unwrap_or_default())
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
        event_hash: hash_at(log, keys::EVENT, events)?,
        decisions,
        decision_hash: hash_at(audit, crate::audit::RECORD, decisions)?,
    })
}

/// Compares the log whose heads are `found` with the record of what was
/// acknowledged in `dir`, and opens the record, moved on to `found`. A
/// directory without one (new, or from a version that kept none) gets one.
/// Refuses a log shorter than the record, or holding something else at a
/// recorded head.
pub(crate) fn check_acknowledged(
    dir: &Path,
    log: &sled::Tree,
    audit: &sled::Tree,
    found: &Heads,
) -> Result<Acknowledged, LogError> {
    let record = Acknowledged::open(dir).map_err(|error| match error.kind() {
        std::io::ErrorKind::InvalidData => LogError::AcknowledgedUnreadable(dir.to_owned()),
        _ => LogError::Storage(sled::Error::Io(error)),
    })?;
    let Some(record) = record else {
        return Acknowledged::create(dir, found).map_err(|e| sled::Error::Io(e).into());
    };
    let acknowledged = record.heads();
    let missing =
        |found: u64, acknowledged: u64| (found < acknowledged).then(|| found + 1..=acknowledged);
    let mut lost = Lost {
        dir: dir.to_owned(),
        events: missing(found.events, acknowledged.events),
        decisions: missing(found.decisions, acknowledged.decisions),
        replaced: None,
    };
    let replaced = [
        (
            Chain::Events,
            log,
            keys::EVENT,
            acknowledged.events,
            acknowledged.event_hash,
        ),
        (
            Chain::Decisions,
            audit,
            crate::audit::RECORD,
            acknowledged.decisions,
            acknowledged.decision_hash,
        ),
    ];
    for (chain, tree, prefix, position, hash) in replaced {
        if position > 0 && lost.replaced.is_none() && hash_at(tree, prefix, position)? != hash {
            let short = match chain {
                Chain::Events => lost.events.is_some(),
                _ => lost.decisions.is_some(),
            };
            if !short {
                lost.replaced = Some((chain, position));
            }
        }
    }
    if lost.events.is_some() || lost.decisions.is_some() || lost.replaced.is_some() {
        return Err(LogError::Lost(Box::new(lost)));
    }
    record.record(found).map_err(sled::Error::Io)?;
    Ok(record)
}

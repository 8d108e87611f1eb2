//! What a refusal to open a data directory names: acknowledged records
//! the log no longer holds ([`Lost`]) and storage sled cannot read
//! ([`Damage`]), with what to do about each. Plain values below both the
//! error type and the code that opens a directory.

use std::fmt;
use std::ops::RangeInclusive;
use std::path::PathBuf;

use crate::acknowledged::Heads;
use crate::chain::Chain;

/// What to do about a directory that is damaged or short, in the words of
/// every message that refuses one.
const RESTORE: &str = "restore the directory from a verified copy or backup (check a copy with \
                       `consent-cli verify --data-dir COPY`) and keep this one for investigation";

/// What to do when the record of what was acknowledged is gone or
/// unreadable, in the words of both refusals.
pub(crate) const RECORD_LOST: &str = "restore the directory, including `acknowledged-heads`, \
    from a verified copy or backup; or, once the log was compared with a backup, record its \
    heads anew with `consent-cli verify --data-dir DIR --replace-acknowledged-record`, which \
    keeps the old file as `acknowledged-heads.replaced`: a tail lost before then could no \
    longer be detected";

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
    /// Byte offset in `db` where sled found damage, when it says: of the
    /// damaged record itself, or of the pointer to it when it is a blob.
    pub offset: Option<u64>,
    /// When the damaged record is a large value kept in its own file, the
    /// name of that file under `blobs/`.
    pub blob: Option<u64>,
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
        match (self.offset, self.blob) {
            (Some(offset), Some(blob)) => write!(
                f,
                " (sled found corrupted data in `blobs/{blob}`, the file of a large value \
                 that byte {offset} of `db` points to)"
            )?,
            (Some(offset), None) => {
                write!(f, " (sled found corrupted data at byte {offset} of `db`)")?
            }
            (None, _) => write!(f, " (sled did not say where)")?,
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

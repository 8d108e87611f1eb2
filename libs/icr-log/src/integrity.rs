//! The full check of a sled log: both hash chains and the checkpoints (via
//! [`Verifier`]), the invariants readers rely on (recorded times never go
//! backwards; a decision names a log position that exists), and every index
//! against the chained items it must agree with. Indexes are not chained
//! themselves, so each entry is checked against the item it names, in both
//! directions: every item has its entries, and every entry names an item
//! that has it.

use std::sync::atomic::{AtomicBool, Ordering};

use icr_proto::Timestamp;
use icr_proto::pb::{Checkpoint, DecisionRecord, RecordedEvent};
use prost::Message;

use crate::append::RequestRecord;
use crate::audit_keys::{self as audit, DECISION_ID, PATIENT, RECORD, REVIEW};
use crate::chain::{Break, Chain, ChainHash};
use crate::keys::{self, decode_u64};
use crate::verify::{Verification, Verifier};
use crate::{LogError, SledLog};

/// Why a check stopped.
pub(crate) enum Failure {
    /// Storage could not be read.
    Storage(LogError),
    /// The log does not verify here.
    Broken(Break),
}

impl From<LogError> for Failure {
    fn from(error: LogError) -> Self {
        Self::Storage(error)
    }
}

impl From<sled::Error> for Failure {
    fn from(error: sled::Error) -> Self {
        Self::Storage(error.into())
    }
}

impl From<Break> for Failure {
    fn from(broken: Break) -> Self {
        Self::Broken(broken)
    }
}

type Checked<T> = Result<T, Failure>;

fn broken(chain: Chain, position: u64, reason: impl Into<String>) -> Failure {
    Failure::Broken(Break {
        chain,
        position,
        reason: reason.into(),
    })
}

fn earlier(a: &Timestamp, b: &Timestamp) -> bool {
    (a.seconds, a.nanos) < (b.seconds, b.nanos)
}

impl SledLog {
    /// Checks everything (see the module docs).
    pub(crate) fn check(
        &self,
        key: Option<&ed25519_dalek::VerifyingKey>,
        stop: &AtomicBool,
    ) -> Checked<Verification> {
        // Writers may run beside a check (a service started from a snapshot
        // verifies while it serves): only what was durable when the check
        // began is checked, and it is read in this order so that each part
        // names only what a later read covers. A checkpoint vouches for heads
        // durable when it was signed; a decision names an event durable when
        // it was made.
        let checkpoints = self.stored_checkpoints()?;
        let decisions = *self.inner.audit.durable.borrow();
        let events = self.head();
        let mut verifier = Verifier::new(key, &checkpoints)?;
        let events = self.check_events(&mut verifier, events, stop)?;
        let reviews = self.check_decisions(&mut verifier, events, decisions, stop)?;
        let verification = verifier.finish()?;
        self.check_log_indexes(verification.events, stop)?;
        self.check_audit_indexes(verification.decisions, reviews, stop)?;
        Ok(verification)
    }

    fn stored_checkpoints(&self) -> Checked<Vec<Checkpoint>> {
        let mut checkpoints = Vec::new();
        for entry in self.inner.checkpoints.iter() {
            let (key, value) = entry?;
            let sequence = decode_u64(&key).unwrap_or(0);
            let checkpoint = Checkpoint::decode(value.as_ref()).map_err(|_| {
                broken(
                    Chain::Checkpoints,
                    sequence,
                    "the checkpoint cannot be decoded",
                )
            })?;
            checkpoints.push(checkpoint);
        }
        Ok(checkpoints)
    }

    /// Walks the events up to `until`; returns the last position verified.
    fn check_events(&self, verifier: &mut Verifier, until: u64, stop: &AtomicBool) -> Checked<u64> {
        let tree = &self.inner.tree;
        let (mut head, mut last) = (0, Timestamp::default());
        for entry in chained(tree, keys::EVENT, until, stop) {
            let (at, value) = entry?;
            let (hash, bytes, event) = unsealed::<RecordedEvent>(&value, "event")
                .map_err(|reason| verifier.event_unreadable(reason))?;
            verifier.event(at, event.position, bytes, &hash)?;
            let time = event.recorded_at.unwrap_or_default();
            if earlier(&time, &last) {
                let reason = "recorded earlier than the event before it";
                return Err(broken(Chain::Events, at, reason));
            }
            let index = tree.get(keys::stream_index(&event.stream, event.stream_version))?;
            if index.as_deref().and_then(decode_u64) != Some(at) {
                let reason = format!(
                    "stream {} version {} is not indexed to it",
                    event.stream, event.stream_version
                );
                return Err(broken(Chain::Events, at, reason));
            }
            (head, last) = (at, time);
        }
        Ok(head)
    }

    /// Walks the decision records up to `until`, which may only name
    /// positions up to `events` (the verified event head); returns how many
    /// are due for review.
    fn check_decisions(
        &self,
        verifier: &mut Verifier,
        events: u64,
        until: u64,
        stop: &AtomicBool,
    ) -> Checked<u64> {
        let tree = &self.inner.audit_tree;
        let mut last = Timestamp::default();
        let mut reviews = 0;
        for entry in chained(tree, RECORD, until, stop) {
            let (at, value) = entry?;
            let (hash, bytes, record) = unsealed::<DecisionRecord>(&value, "record")
                .map_err(|reason| verifier.decision_unreadable(reason))?;
            verifier.decision(at, record.audit_position, bytes, &hash)?;
            let fault = |reason: String| Err(broken(Chain::Decisions, at, reason));
            let time = record.recorded_at.unwrap_or_default();
            if earlier(&time, &last) {
                return fault("recorded earlier than the record before it".into());
            }
            if record.log_position > events {
                let reason = format!(
                    "evaluated at log position {}, past the log",
                    record.log_position
                );
                return fault(reason);
            }
            if !tree.contains_key(audit::patient_key(&record.nhs_number, at))? {
                return fault("missing from its patient's access report index".into());
            }
            let named = tree.get(audit::decision_id_key(&record.decision_id))?;
            if named.as_deref().and_then(decode_u64) != Some(at) {
                return fault(format!(
                    "decision id {} is not indexed to it",
                    record.decision_id
                ));
            }
            let queued = tree.contains_key(keys::positioned(REVIEW, at))?;
            if queued != record.review_due_by.is_some() {
                return fault("its place in the review queue does not match it".into());
            }
            reviews += u64::from(queued);
            last = time;
        }
        Ok(reviews)
    }

    /// Every stream index entry and request record names events that agree
    /// with it.
    ///
    /// The walk over the items has checked that each item has its own index
    /// entries, and entries of different items have different keys (each
    /// names one position). So an index holding exactly as many entries as
    /// there are such items holds no others, and is not read entry by entry;
    /// only when the counts differ is every entry checked, to name the first
    /// wrong one. This spares start-up a second decode of every item.
    fn check_log_indexes(&self, head: u64, stop: &AtomicBool) -> Checked<()> {
        let tree = &self.inner.tree;
        // Items past the head are read as they stand: a writer adds an item
        // and its entries in one batch, so an entry must agree with its item
        // wherever it is.
        let event = |position: u64| -> Checked<Option<RecordedEvent>> {
            if position == 0 {
                return Ok(None);
            }
            let value = tree.get(keys::event(position))?;
            let sealed = value.as_deref().and_then(keys::unseal);
            Ok(sealed.and_then(|(_, bytes)| RecordedEvent::decode(bytes).ok()))
        };
        let index = Index {
            tree,
            prefix: keys::STREAM_INDEX,
            head,
            names: by_value,
            stop,
        };
        for (key, value) in to_check(index, head)? {
            let position = decode_u64(&value).unwrap_or(0);
            // `s` + stream + 0 + version (8 bytes).
            let parsed = (key.len() >= 10 && key[key.len() - 9] == 0).then(|| {
                let stream = String::from_utf8_lossy(&key[1..key.len() - 9]).into_owned();
                (stream, decode_u64(&key[key.len() - 8..]))
            });
            let agrees = match (&parsed, event(position)?) {
                (Some((stream, version)), Some(e)) => {
                    &e.stream == stream && Some(e.stream_version) == *version
                }
                _ => false,
            };
            if !agrees {
                let stream = parsed.map_or_else(|| "?".to_owned(), |p| p.0);
                let reason = format!("an index entry of stream {stream} names it wrongly");
                return Err(broken(Chain::Events, position, reason));
            }
        }
        for entry in tree.scan_prefix([keys::REQUEST]) {
            let (key, value) = entry?;
            let id = String::from_utf8_lossy(&key[1..]).into_owned();
            let record = RequestRecord::decode(value.as_ref()).ok();
            let position = record.as_ref().map_or(0, |r| r.first_position);
            let agrees = match (&record, event(position)?) {
                (Some(r), Some(first)) => {
                    first.request_id == id
                        && r.event_ids.first() == Some(&first.id)
                        && (r.last_position == position || event(r.last_position)?.is_some())
                }
                _ => false,
            };
            if !agrees {
                let reason = format!("the record of request {id} does not match its events");
                return Err(broken(Chain::Events, position, reason));
            }
        }
        Ok(())
    }

    /// Every patient, decision id and review index entry names a record
    /// that has it (counted first, as in [`Self::check_log_indexes`]).
    fn check_audit_indexes(&self, head: u64, reviews: u64, stop: &AtomicBool) -> Checked<()> {
        let tree = &self.inner.audit_tree;
        // Records past the head are read as they stand (see
        // `check_log_indexes`).
        let record = |position: u64| -> Option<DecisionRecord> {
            if position == 0 {
                return None;
            }
            self.decision_at(position).ok()
        };
        let fault = |position: u64, index: &str| {
            let reason = format!("an entry of the {index} index names it wrongly");
            Err(broken(Chain::Decisions, position, reason))
        };
        let index = |prefix, names| Index {
            tree,
            prefix,
            head,
            names,
            stop,
        };
        for (key, _) in to_check(index(PATIENT, by_key), head)? {
            let split = key.len().saturating_sub(8).max(1);
            let position = decode_u64(&key[split..]).unwrap_or(0);
            let nhs = &key[1..split];
            if record(position).is_none_or(|r| r.nhs_number.as_bytes() != nhs) {
                return fault(position, "patient");
            }
        }
        for (key, value) in to_check(index(DECISION_ID, by_value), head)? {
            let position = decode_u64(&value).unwrap_or(0);
            if record(position).is_none_or(|r| r.decision_id.as_bytes() != &key[1..]) {
                return fault(position, "decision id");
            }
        }
        for (key, _) in to_check(index(REVIEW, by_key), reviews)? {
            let position = decode_u64(&key[1..]).unwrap_or(0);
            if record(position).is_none_or(|r| r.review_due_by.is_none()) {
                return fault(position, "review");
            }
        }
        Ok(())
    }
}

/// An index entry whose key ends with the position it names.
fn by_key(key: &[u8], _: &[u8]) -> u64 {
    decode_u64(&key[key.len().saturating_sub(8)..]).unwrap_or(0)
}

/// An index entry whose value is the position it names.
fn by_value(_: &[u8], value: &[u8]) -> u64 {
    decode_u64(value).unwrap_or(0)
}

/// An index to check: entries naming positions up to `head` are counted
/// against the items walked; entries past it were added by writers while
/// the check ran (or are damage) and are always checked one by one.
struct Index<'a> {
    tree: &'a sled::Tree,
    prefix: u8,
    head: u64,
    /// Reads the position an entry names.
    names: fn(&[u8], &[u8]) -> u64,
    stop: &'a AtomicBool,
}

/// The items of a chain stored under `prefix`, each with the position its
/// key names, up to `until`; each read fails once `stop` is set.
fn chained<'a>(
    tree: &'a sled::Tree,
    prefix: u8,
    until: u64,
    stop: &'a AtomicBool,
) -> impl Iterator<Item = Checked<(u64, sled::IVec)>> + 'a {
    tree.scan_prefix([prefix])
        .map(|entry| -> Checked<(u64, sled::IVec)> {
            let (key, value) = entry?;
            Ok((decode_u64(&key[1..]).unwrap_or(0), value))
        })
        .take_while(move |entry| !matches!(entry, Ok((at, _)) if *at > until))
        .map(move |entry| {
            let item = entry?;
            stopped(stop)?;
            Ok(item)
        })
}

/// A stored chain item opened: its chain hash, its encoding and the message
/// it decodes to; or why it cannot be read, `what` naming it.
fn unsealed<'a, M: Message + Default>(
    value: &'a [u8],
    what: &str,
) -> Result<(ChainHash, &'a [u8], M), String> {
    let (hash, bytes) = keys::unseal(value).ok_or("shorter than a chain hash")?;
    let message = M::decode(bytes).map_err(|_| format!("the {what} cannot be decoded"))?;
    Ok((hash, bytes, message))
}

/// Ends a check early when `stop` is set.
fn stopped(stop: &AtomicBool) -> Checked<()> {
    if stop.load(Ordering::Relaxed) {
        return Err(Failure::Storage(LogError::Stopped));
    }
    Ok(())
}

/// The entries of `index` to check one by one: those past its head, and
/// also every other one unless exactly `expected` name positions up to it
/// (see [`SledLog::check_log_indexes`]). An entry naming no readable
/// position counts as 0, so it is checked, never skipped.
fn to_check(index: Index<'_>, expected: u64) -> Checked<Vec<(sled::IVec, sled::IVec)>> {
    let Index {
        tree,
        prefix,
        head,
        names,
        stop,
    } = index;
    let (mut covered, mut newer) = (0, Vec::new());
    for entry in tree.scan_prefix([prefix]) {
        stopped(stop)?;
        let (key, value) = entry?;
        if names(&key, &value) <= head {
            covered += 1;
        } else {
            newer.push((key, value));
        }
    }
    if covered == expected {
        return Ok(newer);
    }
    let mut all = Vec::new();
    for entry in tree.scan_prefix([prefix]) {
        let (key, value) = entry?;
        if names(&key, &value) <= head {
            all.push((key, value));
        }
    }
    all.extend(newer);
    Ok(all)
}

//! The decision audit's sled tree: how its keys are laid out, and the
//! decision chain's tip read from it. Below both the audit and the code that
//! opens a log, which reads the tip at start.
//!
//! Its own sled tree keeps consent history small (decisions will outnumber
//! events by far). Keys make the common scans cheap:
//!
//! | key                                      | value                     |
//! |------------------------------------------|---------------------------|
//! | `a` + audit position (u64 BE)            | sealed `DecisionRecord`   |
//! | `p` + NHS number + audit position (BE)   | empty: the patient index  |
//! | `d` + decision id                        | audit position (u64 BE)   |
//! | `v` + audit position (u64 BE)            | empty: needs review       |
//!
//! A sealed record is its chain hash (32 bytes) followed by its protobuf
//! encoding, as for events. Audit positions are gapless and assigned in recording order, and
//! recorded times never go backwards, so a time range is a position range
//! found by binary search.

use icr_proto::Timestamp;
use icr_proto::pb::DecisionRecord;
use prost::Message;

use crate::LogError;
use crate::chain::Chain;
use crate::tip::Tip;

pub(crate) const RECORD: u8 = b'a';
pub(crate) const PATIENT: u8 = b'p';
pub(crate) const DECISION_ID: u8 = b'd';
pub(crate) const REVIEW: u8 = b'v';

pub(crate) fn patient_key(nhs_number: &str, position: u64) -> Vec<u8> {
    let mut key = patient_prefix(nhs_number);
    key.extend_from_slice(&position.to_be_bytes());
    key
}

pub(crate) fn patient_prefix(nhs_number: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(nhs_number.len() + 9);
    key.push(PATIENT);
    key.extend_from_slice(nhs_number.as_bytes());
    key
}

pub(crate) fn decision_id_key(decision_id: &str) -> Vec<u8> {
    let mut key = vec![DECISION_ID];
    key.extend_from_slice(decision_id.as_bytes());
    key
}

pub(crate) fn record_time(bytes: &[u8]) -> Option<Timestamp> {
    DecisionRecord::decode(bytes).ok()?.recorded_at
}

/// The decision chain's tip in `tree`.
pub(crate) fn tip(tree: &sled::Tree) -> Result<Tip, LogError> {
    Tip::load(tree, RECORD, Chain::Decisions, record_time)
}

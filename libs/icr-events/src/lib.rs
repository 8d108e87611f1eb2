//! The consent domain: validated identifiers, the event vocabulary, and the
//! rules that decide whether a proposed event may be appended.
//!
//! # Layout
//! - [`nhs_number`]: NHS numbers with their Modulus 11 check digit.
//! - [`codes`]: ODS, role and region codes, dates, and the closed enum
//!   vocabularies (record sections, purposes, scopes, kinds).
//! - [`names`]: enum values by their short names (`medications`).
//! - [`event`]: the one list of event kinds, with each kind's type name,
//!   schema version and stream; the rest of a kind lives with its aggregate.
//! - [`patient`]: the patient aggregate, folded from a patient's stream;
//!   each patient kind's fold, decide rule and summary in `patient/kinds.rs`.
//! - [`policy`]: an organisation's membership of the sharing agreement, and
//!   the summaries of the policy and review kinds.
//! - [`review`]: the reviews of one exceptional access (one final review).
//! - `arbitrary` (feature `test-util`): property-test strategies for events
//!   with arbitrary field values; `policy_readme` (the same feature): the
//!   generated blocks of `policies/README.md`, for the tests that check them.
//!
//! Handling a command is `Aggregate::decide(proposed event)`; folding is
//! `Aggregate::apply(event)`, which never fails. This crate knows nothing of
//! gRPC, storage or casbin.
#![forbid(unsafe_code)]

#[cfg(any(test, feature = "test-util"))]
pub mod arbitrary;
pub mod codes;
#[cfg(test)]
mod decode_props;
pub mod event;
pub mod names;
pub mod nhs_number;
pub mod patient;
pub mod policy;
#[cfg(any(test, feature = "test-util"))]
pub mod policy_readme;
pub mod review;
mod words;

pub use codes::FieldError;
pub use event::{EVENT_KINDS, EVENT_TYPES, StreamId, Summary, event_type, summary};
pub use nhs_number::{NhsNumber, NhsNumberError};
pub use patient::{Patient, PatientEvent, Source};
pub use policy::Membership;
pub use review::Review;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

/// Why current state refuses a command. Nothing is appended in either case.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// The state does not allow the change (e.g. withdrawing an objection
    /// that is not active). Re-read the state; retrying unchanged will fail again.
    #[error("{0}")]
    FailedPrecondition(String),
    /// The change is already in effect. Safe to treat as done.
    #[error("{0}")]
    AlreadyExists(String),
}

/// The calendar date in the UK (Europe/London) at `now`: ages and validity
/// dates are judged by the date people in the UK see on the wall.
pub fn uk_date(now: Timestamp) -> Date {
    // The tz database is bundled into the binary, so this lookup only fails
    // if the build is broken; UTC is then within an hour of UK time.
    let tz = TimeZone::get("Europe/London").unwrap_or(TimeZone::UTC);
    now.to_zoned(tz).date()
}

/// Converts a protobuf timestamp; `None` when out of range or when `nanos`
/// is outside `0..=999_999_999`, as the protobuf spec requires.
pub fn timestamp_from_proto(ts: &icr_proto::Timestamp) -> Option<Timestamp> {
    if !(0..=999_999_999).contains(&ts.nanos) {
        return None;
    }
    Timestamp::new(ts.seconds, ts.nanos).ok()
}

/// Converts to a protobuf timestamp.
pub fn timestamp_to_proto(ts: Timestamp) -> icr_proto::Timestamp {
    icr_proto::Timestamp {
        seconds: ts.as_second(),
        nanos: ts.subsec_nanosecond(),
    }
}

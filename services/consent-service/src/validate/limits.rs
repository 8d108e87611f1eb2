//! Every bound the service puts on a request field, in one place.
//!
//! A request that breaks one is refused as `InvalidArgument` naming the
//! field, before anything is read or written: the request itself is wrong,
//! whatever the state of the service, so retrying it unchanged will fail
//! again (`ResourceExhausted` would tell the caller to back off and retry).
//! The size of a whole message and the number of concurrent streams are
//! bounded by the server builder, not here; the bounds on a policy event
//! (names, role lists, viewing regions, review period, minimum age) are in
//! `icr_packs::limits`, where the pack loader checks them too.
//!
//! The bounds are generous for every real caller and small enough that no
//! single request can make the service do much more work, keep much more
//! state, or send back much more text than an ordinary one.
//!
//! Some numbers are left unbounded on purpose: a `min_log_position` past
//! the head waits at most a few seconds (it is a consistency token, and a
//! write may be about to reach it), then answers `OutOfRange` naming the
//! head if it is still past it; an
//! `expected_stream_version` that does not match is `Aborted`; a replay's
//! `from_position` past the head just finds nothing, and its `limit` only
//! stops the stream early (the replay reads in pages and waits for the
//! client, whatever the limit); a checkpoint `from_sequence` past the last
//! gives an empty page.

/// Longest id accepted, in bytes: request, user, attorney, relationship and
/// decision ids, `verified_by` and the calling system. Ids are stored in
/// every event and decision record and keyed on in the log (request and
/// decision ids), so they are kept short; 128 bytes holds a UUID, a ULID, an
/// email address or an NHS smartcard user id several times over.
pub(crate) const MAX_ID: usize = 128;

/// Longest access reason accepted, in bytes. A reason for break glass or a
/// self-claimed relationship is a sentence or two for the privacy officer;
/// it is kept in every decision record of the request, one per section.
pub(crate) const MAX_REASON: usize = 1024;

/// Longest review note accepted, in bytes: a privacy officer's finding, a
/// paragraph or two, stored once in the review's event.
pub(crate) const MAX_NOTE: usize = 4096;

/// Longest stream name accepted in a replay filter, in bytes: the longest
/// real name is `review/` and a decision id ([`MAX_ID`]), with room to spare.
pub(crate) const MAX_STREAM: usize = 160;

/// Most sections one `AuthorizeBatch` may ask about. Every section is
/// decided and recorded in the audit trail before the answer, so a batch
/// is bounded like a page; a viewer showing a whole record needs 19.
pub(crate) const MAX_BATCH_SECTIONS: usize = 64;

/// Most event types a replay may filter on: naming every type once is the
/// most a filter can mean. The filter is checked against each replayed
/// event, so a longer list would only cost.
pub(crate) const MAX_EVENT_TYPE_FILTERS: usize = icr_events::EVENT_TYPES.len();

/// Most access modes a decision replay may filter on: there are three.
pub(crate) const MAX_ACCESS_MODE_FILTERS: usize = 3;

/// Longest text of a refused value repeated in an error message, in bytes.
/// Error messages travel in a response header; echoing a huge value would
/// make the refusal itself too large to deliver.
pub(crate) const MAX_ECHO: usize = 64;

/// Largest page of a paged audit read (access report, review queue,
/// checkpoints). Each page is one response message: 1000 decision records
/// is a few hundred KB, well under the message size limit.
pub(crate) const MAX_PAGE: u32 = 1000;

/// Page size when the caller does not say.
pub(crate) const DEFAULT_PAGE: u32 = 100;

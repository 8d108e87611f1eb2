//! Property tests: events with arbitrary field values (and arbitrary bytes
//! read as events) fold without panicking, every state they reach reads
//! back from a snapshot as itself, a fact query on it never panics, and
//! arbitrary or damaged snapshot bytes are refused rather than panicking.
//!
//! Cases: 256 per property by default; `PROPTEST_CASES` sets the number
//! (`scripts/proptest-long.sh` runs 100,000).

use icr_events::NhsNumber;
use icr_events::arbitrary::{enum_value, recorded_event, text};
use icr_proto::pb::{AccessMode, Purpose, RecordedEvent};
use proptest::prelude::*;
use prost::Message;

use crate::{FactQuery, Projections};

/// Up to `n` events at positions 1, 2, 3…
fn history(n: usize) -> impl Strategy<Value = Vec<RecordedEvent>> {
    (0..=n).prop_flat_map(|len| (1..=len as u64).map(recorded_event).collect::<Vec<_>>())
}

fn accept(_: &crate::Snapshot, _: &[u8]) -> Result<(), String> {
    Ok(())
}

/// Asks about `nhs` with arbitrary requester values.
fn query(p: &Projections, nhs: &NhsNumber, (purpose, mode, role, ods, reason): &Asked) {
    let query = FactQuery {
        nhs_number: nhs,
        purpose: Purpose::try_from(*purpose).unwrap_or(Purpose::DirectCare),
        role_code: role,
        organisation_ods: ods,
        source_organisation_ods: ods,
        access_mode: AccessMode::try_from(*mode).unwrap_or(AccessMode::Normal),
        access_reason: reason,
        now: jiff::Timestamp::now(),
    };
    let _ = p.facts(&query);
}

type Asked = (i32, i32, String, String, String);

fn asked() -> impl Strategy<Value = Asked> {
    (
        enum_value(),
        enum_value(),
        text(&["R8000", "R0260"]),
        text(&["RKB", "M86003"]),
        text(&["", "unconscious"]),
    )
}

proptest! {
    #[test]
    fn arbitrary_events_fold_and_read_back_from_a_snapshot(
        events in history(30),
        asked in asked(),
    ) {
        let mut live = Projections::default();
        for event in &events {
            prop_assert!(live.apply(event).is_ok(), "in order");
        }
        let _ = live.policy().policy_set();
        for nhs in ["9434765919", "9434765870", "4010232137"] {
            query(&live, &nhs.parse().expect("valid"), &asked);
        }
        let bytes = live.encode_snapshot(b"chain", |_| Vec::new());
        let (loaded, _) = Projections::decode_snapshot(&bytes, accept).expect("reads back");
        prop_assert_eq!(loaded, live);
    }

    #[test]
    fn arbitrary_bytes_read_as_an_event_fold_or_are_refused(
        bytes in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        if let Ok(mut event) = RecordedEvent::decode(bytes.as_slice()) {
            let mut live = Projections::default();
            let _ = live.apply(&event);
            event.position = live.position() + 1;
            prop_assert!(live.apply(&event).is_ok());
        }
    }

    #[test]
    fn arbitrary_snapshot_bytes_are_refused_without_a_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..1024),
    ) {
        let _ = Projections::decode_snapshot(&bytes, accept);
    }

    #[test]
    fn damaged_snapshots_are_refused_or_read_as_a_state_without_a_panic(
        events in history(10),
        (at, flip, keep) in (any::<usize>(), 1u8..=255, any::<usize>()),
    ) {
        let mut live = Projections::default();
        for event in &events {
            prop_assert!(live.apply(event).is_ok(), "in order");
        }
        let mut bytes = live.encode_snapshot(b"chain", |_| Vec::new());
        let at = at % bytes.len();
        bytes[at] ^= flip;
        bytes.truncate(keep % (bytes.len() + 1));
        let _ = Projections::decode_snapshot(&bytes, accept);
    }
}

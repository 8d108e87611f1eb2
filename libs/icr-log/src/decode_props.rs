//! Property tests for reading stored records back: whatever bytes a key or
//! a value holds (damage, a foreign writer, a truncated disk), decoding
//! returns the record or an error naming which record, and never panics;
//! and every event, whatever its field values, reads back exactly as it
//! was sealed.
//!
//! Cases: 256 per property by default; `PROPTEST_CASES` sets the number
//! (`scripts/proptest-long.sh` runs 100,000).

use icr_events::arbitrary::recorded_event;
use icr_proto::pb::{Checkpoint, DecisionRecord, RecordedEvent};
use proptest::prelude::*;
use prost::Message;

use crate::LogError;
use crate::append::RequestRecord;
use crate::keys::{self, decode_sealed, decode_u64, unseal};
use crate::sled_log::decode_event;

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

/// The position a stored event key names, as the reader reports it.
fn named_position(key: &[u8]) -> u64 {
    key.get(1..).and_then(decode_u64).unwrap_or(0)
}

/// An error reading an item names the item it was asked about.
fn names(error: &LogError, what: &str) -> bool {
    match error {
        LogError::Corrupt { key, .. } => key == what,
        LogError::Inconsistent(message) => message.starts_with(what),
        _ => false,
    }
}

proptest! {
    #[test]
    fn arbitrary_stored_events_decode_or_name_the_position(key in bytes(16), value in bytes(512)) {
        let what = format!("event {}", named_position(&key));
        match decode_event(&key, &value) {
            Ok(event) => prop_assert_eq!(event.chain_hash.len(), 32),
            Err(error) => prop_assert!(names(&error, &what), "{error} does not name {what}"),
        }
    }

    #[test]
    fn arbitrary_stored_decisions_and_records_never_panic(value in bytes(512)) {
        let what = || "decision 7".to_owned();
        if let Err(error) = decode_sealed::<DecisionRecord>(&value, what) {
            prop_assert!(names(&error, "decision 7"), "{error}");
        }
        let _ = unseal(&value);
        let _ = decode_u64(&value);
        let _ = RequestRecord::decode(value.as_slice());
        let _ = Checkpoint::decode(value.as_slice());
        let _ = crate::sled_log::event_time(&value);
    }

    #[test]
    fn every_sealed_event_reads_back_as_it_was(
        position in any::<u64>(),
        event in recorded_event(1),
        hash in any::<[u8; 32]>(),
    ) {
        let event = RecordedEvent { position, ..event };
        let stored = keys::seal(&hash, &event.encode_to_vec());
        let read = decode_event(&keys::event(position), &stored).expect("reads back");
        prop_assert_eq!(&read.chain_hash, &hash.to_vec());
        prop_assert_eq!(RecordedEvent { chain_hash: Vec::new(), ..read }, event);
    }

    #[test]
    fn damaged_sealed_events_decode_or_name_the_position(
        position in any::<u64>(),
        event in recorded_event(1),
        (at, flip, keep) in (any::<usize>(), 1u8..=255, any::<usize>()),
    ) {
        let mut stored = keys::seal(&[0; 32], &RecordedEvent { position, ..event }.encode_to_vec());
        let at = at % stored.len();
        stored[at] ^= flip;
        stored.truncate(keep % (stored.len() + 1));
        if let Err(error) = decode_event(&keys::event(position), &stored) {
            let what = format!("event {position}");
            prop_assert!(names(&error, &what), "{error} does not name {what}");
        }
    }
}

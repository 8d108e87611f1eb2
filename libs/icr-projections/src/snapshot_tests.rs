//! A snapshot reads back as the state it was taken from, goes on folding
//! like it, and any damage is refused rather than read as other state.

use super::*;
use crate::Projections;
use icr_proto::pb::event_payload::Kind;
use icr_proto::pb::{
    CareRelationshipEnded, CareRelationshipStarted, ObjectionRecorded, ObjectionWithdrawn,
    OrganisationJoined, OrganisationLeft, PatientRegistered, RecordedEvent, RegionPolicySet,
    RolePolicySet,
};
use proptest::prelude::*;

fn nhs(i: u32) -> String {
    NhsNumber::synthetic(i).to_string()
}

/// One event of a small alphabet, so that histories touch the same
/// patients, organisations and relationships again and again.
fn payload(choice: u8, who: u32, what: u8) -> (String, Kind) {
    let n = nhs(who);
    let ods = ["RKB", "M86003", "RYG"][usize::from(what % 3)].to_owned();
    let patient = format!("patient/{n}");
    match choice % 8 {
        0 => (
            patient,
            Kind::PatientRegistered(PatientRegistered {
                nhs_number: n,
                gp_practice_ods: ods,
                date_of_birth: format!("19{:02}-0{}-1{}", what, 1 + what % 9, what % 10),
            }),
        ),
        1 => (
            patient,
            Kind::ObjectionRecorded(ObjectionRecorded {
                nhs_number: n,
                scope: i32::from(what % 5),
                ..Default::default()
            }),
        ),
        2 => (
            patient,
            Kind::ObjectionWithdrawn(ObjectionWithdrawn {
                nhs_number: n,
                scope: i32::from(what % 5),
                ..Default::default()
            }),
        ),
        3 => (
            patient,
            Kind::CareRelationshipStarted(CareRelationshipStarted {
                nhs_number: n,
                relationship_id: format!("rel-{}", what % 4),
                organisation_ods: ods,
                kind: i32::from(what % 3),
            }),
        ),
        4 => (
            patient,
            Kind::CareRelationshipEnded(CareRelationshipEnded {
                nhs_number: n,
                relationship_id: format!("rel-{}", what % 4),
            }),
        ),
        5 => (
            format!("organisation/{ods}"),
            Kind::OrganisationJoined(OrganisationJoined {
                ods_code: ods,
                name: "Somewhere".into(),
                region: ["QWU", "QOX"][usize::from(what % 2)].into(),
            }),
        ),
        6 => (
            format!("organisation/{ods}"),
            Kind::OrganisationLeft(OrganisationLeft { ods_code: ods }),
        ),
        _ if what.is_multiple_of(2) => (
            "role/R8000".into(),
            Kind::RolePolicySet(RolePolicySet {
                role_code: "R8000".into(),
                sections: vec![i32::from(what % 4)],
                purposes: vec![1],
                clinical: what.is_multiple_of(3),
                ..Default::default()
            }),
        ),
        _ => (
            "region/QWU".into(),
            Kind::RegionPolicySet(RegionPolicySet {
                region: "QWU".into(),
                minimum_age: u32::from(what),
                break_glass: what % 2 == 1,
                ..Default::default()
            }),
        ),
    }
}

fn fold(events: &[(u8, u32, u8)], onto: &mut Projections) {
    for &(choice, who, what) in events {
        let (stream, kind) = payload(choice, who, what);
        let event = RecordedEvent {
            position: onto.position() + 1,
            stream,
            payload: Some(EventPayload { kind: Some(kind) }),
            ..RecordedEvent::default()
        };
        onto.apply(&event).expect("in order");
    }
}

fn history() -> impl Strategy<Value = Vec<(u8, u32, u8)>> {
    prop::collection::vec((any::<u8>(), 0u32..40, any::<u8>()), 0..200)
}

fn accept(_: &Snapshot, _: &[u8]) -> Result<(), String> {
    Ok(())
}

proptest! {
    #[test]
    fn a_snapshot_reads_back_as_its_state_and_folds_on_like_it(
        before in history(),
        after in history(),
    ) {
        let mut live = Projections::default();
        fold(&before, &mut live);
        let bytes = live.encode_snapshot(b"chain", |_| Vec::new());
        let (mut loaded, snapshot) = Projections::decode_snapshot(&bytes, accept).expect("reads");
        prop_assert_eq!(&loaded, &live);
        prop_assert_eq!(snapshot.position, live.position());
        prop_assert_eq!(snapshot.chain_hash.as_slice(), b"chain".as_slice());
        prop_assert_eq!(snapshot.patients, live.patient_count() as u64);
        fold(&after, &mut live);
        fold(&after, &mut loaded);
        prop_assert_eq!(loaded, live);
    }
}

fn sample() -> (Projections, Vec<u8>) {
    let mut live = Projections::default();
    let events: Vec<_> = (0..120u32)
        .map(|i| ((i % 8) as u8, i % 30, (i * 7 % 256) as u8))
        .collect();
    fold(&events, &mut live);
    let bytes = live.encode_snapshot(&[7; 32], |digest| digest.to_vec());
    (live, bytes)
}

#[test]
fn every_changed_byte_and_every_cut_is_refused() {
    let (_, bytes) = sample();
    // The signature is the caller's to check: this one must equal the digest.
    let signed = |s: &Snapshot, signature: &[u8]| {
        (signature == s.digest.as_slice())
            .then_some(())
            .ok_or_else(|| "bad signature".to_owned())
    };
    assert!(Projections::decode_snapshot(&bytes, signed).is_ok());
    for i in 0..bytes.len() {
        let mut damaged = bytes.clone();
        damaged[i] ^= 0x20;
        assert!(
            Projections::decode_snapshot(&damaged, signed).is_err(),
            "a change at byte {i} of {} was read",
            bytes.len()
        );
    }
    for cut in 0..bytes.len() {
        assert!(Projections::decode_snapshot(&bytes[..cut], signed).is_err());
    }
}

#[test]
fn the_callers_check_sees_the_header_and_can_refuse() {
    let (live, bytes) = sample();
    let refused = Projections::decode_snapshot(&bytes, |s, _| {
        assert_eq!(s.position, live.position());
        assert_eq!(s.chain_hash, vec![7; 32]);
        Err("not this one".into())
    });
    assert!(matches!(refused, Err(SnapshotError::Refused(why)) if why == "not this one"));
}

#[test]
fn a_state_with_more_patients_than_a_chunk_reads_back() {
    let mut live = Projections::default();
    let registrations: Vec<_> = (0..(CHUNK as u32 + 10)).map(|i| (0, i, 3)).collect();
    fold(&registrations, &mut live);
    let bytes = live.encode_snapshot(&[], |_| Vec::new());
    let (loaded, _) = Projections::decode_snapshot(&bytes, accept).expect("reads");
    assert_eq!(loaded, live);
}

/// Where the format byte is: right after the magic.
const FORMAT_AT: usize = MAGIC.len();

#[test]
fn a_snapshot_of_the_current_format_says_so_and_reads_back() {
    let (live, bytes) = sample();
    assert_eq!(&bytes[..FORMAT_AT], b"ICRSNAP");
    assert_eq!(bytes[FORMAT_AT], SNAPSHOT_FORMAT);
    let (loaded, _) = Projections::decode_snapshot(&bytes, accept).expect("reads");
    assert_eq!(loaded, live);
}

#[test]
fn a_snapshot_of_another_format_is_refused_naming_both_formats() {
    let (_, bytes) = sample();
    // 0: a snapshot written before the format was at the start of the file,
    // whose magic ended in a NUL byte there; the others: older or newer builds.
    for found in [0, 1, SNAPSHOT_FORMAT - 1, SNAPSHOT_FORMAT + 1, u8::MAX] {
        let mut other = bytes.clone();
        other[FORMAT_AT] = found;
        let refused = Projections::decode_snapshot(&other, |_, _| {
            panic!("the header of another format is not read")
        });
        let Err(error) = refused else {
            panic!("format {found} was read");
        };
        assert!(
            matches!(error, SnapshotError::Format { found: f, reads } if f == found && reads == SNAPSHOT_FORMAT),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            format!("format v{found}, this build reads v{SNAPSHOT_FORMAT}")
        );
    }
}

#[test]
fn the_signed_digest_covers_the_format() {
    let (_, bytes) = sample();
    let signed = |s: &Snapshot, signature: &[u8]| {
        (signature == s.digest.as_slice())
            .then_some(())
            .ok_or_else(|| "bad signature".to_owned())
    };
    // A build that read another format would not take this file for one of
    // its own: the header digest covers the format byte...
    let other = SNAPSHOT_FORMAT + 1;
    let mut relabelled = bytes.clone();
    relabelled[FORMAT_AT] = other;
    let refused = Projections::decode_format(&relabelled, other, signed);
    assert!(
        matches!(&refused, Err(SnapshotError::Unreadable(why)) if why == "header digest does not match"),
        "{:?}",
        refused.err()
    );
    // ...and with the digest recomputed, as anyone without the key can, the
    // signature of the genuine digest no longer matches.
    let length = u32::from_le_bytes(bytes[FORMAT_AT + 1..FORMAT_AT + 5].try_into().expect("4"));
    let digest_at = FORMAT_AT + 5 + length as usize;
    let digest: [u8; 32] = Sha256::digest(&relabelled[..digest_at]).into();
    relabelled[digest_at..digest_at + 32].copy_from_slice(&digest);
    let refused = Projections::decode_format(&relabelled, other, signed);
    assert!(
        matches!(&refused, Err(SnapshotError::Refused(why)) if why == "bad signature"),
        "{:?}",
        refused.err()
    );
}

#[test]
fn a_snapshot_folded_with_other_event_kinds_is_refused_naming_them() {
    let (live, _) = sample();
    let mut kinds: Vec<(String, u32)> = EVENT_KINDS
        .iter()
        .map(|&(name, version)| (name.to_owned(), version))
        .collect();
    // A build that did not know the first kind, and knew one this build
    // does not: its state may hold as unreadable what this build would fold.
    let (first, _) = kinds.remove(0);
    kinds.push(("FromANewerBuild".to_owned(), 1));
    let bytes = live.encode_folded_with(kinds.clone(), &[7; 32], |digest| digest.to_vec());
    let refused = Projections::decode_snapshot(&bytes, accept);
    let Err(SnapshotError::EventKinds { unknown, missing }) = refused else {
        panic!("read: {:?}", refused.map(|(_, s)| s));
    };
    assert_eq!(unknown, ["FromANewerBuild v1"]);
    assert_eq!(missing, [format!("{first} v1")]);
    // The same kinds in another order fold the same: read back.
    kinds.pop();
    kinds.insert(0, (first, 1));
    kinds.reverse();
    let bytes = live.encode_folded_with(kinds, &[7; 32], |digest| digest.to_vec());
    let (loaded, _) = Projections::decode_snapshot(&bytes, accept).expect("reads");
    assert_eq!(loaded, live);
}

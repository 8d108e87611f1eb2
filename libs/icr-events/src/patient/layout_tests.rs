//! The rules of the compact layout: sources kept with their facts, the
//! uncommon part dropped when empty, and snapshots read back only as states
//! a fold can reach.

use super::*;
use icr_proto::pb::event_payload::Kind;
use icr_proto::pb::{
    CareRelationshipEnded, CareRelationshipStarted, ObjectionRecorded, ObjectionWithdrawn,
    PatientRegistered, PermissionToViewGranted, PermissionToViewRevoked,
};

fn ev(kind: Kind) -> EventPayload {
    EventPayload { kind: Some(kind) }
}

fn registered(date_of_birth: &str) -> EventPayload {
    ev(Kind::PatientRegistered(PatientRegistered {
        gp_practice_ods: "M86003".into(),
        date_of_birth: date_of_birth.into(),
        ..Default::default()
    }))
}

fn objection(scope: i32, withdrawn: bool) -> EventPayload {
    if withdrawn {
        ev(Kind::ObjectionWithdrawn(ObjectionWithdrawn {
            scope,
            ..Default::default()
        }))
    } else {
        ev(Kind::ObjectionRecorded(ObjectionRecorded {
            scope,
            ..Default::default()
        }))
    }
}

fn started(id: &str, ods: &str) -> EventPayload {
    ev(Kind::CareRelationshipStarted(CareRelationshipStarted {
        relationship_id: id.into(),
        organisation_ods: ods.into(),
        ..Default::default()
    }))
}

fn ended(id: &str) -> EventPayload {
    ev(Kind::CareRelationshipEnded(CareRelationshipEnded {
        relationship_id: id.into(),
        ..Default::default()
    }))
}

fn granted(until: Option<icr_proto::Timestamp>) -> EventPayload {
    ev(Kind::PermissionToViewGranted(PermissionToViewGranted {
        organisation_ods: "RKB".into(),
        until,
        ..Default::default()
    }))
}

fn revoked() -> EventPayload {
    ev(Kind::PermissionToViewRevoked(PermissionToViewRevoked {
        organisation_ods: "RKB".into(),
        ..Default::default()
    }))
}

fn given(events: &[EventPayload]) -> Patient {
    Patient::from_events((1..).zip(events))
}

fn seconds(seconds: i64) -> Option<icr_proto::Timestamp> {
    Some(icr_proto::Timestamp { seconds, nanos: 0 })
}

#[test]
#[cfg(target_pointer_width = "64")]
fn a_registered_patient_with_one_relationship_is_small() {
    assert_eq!(std::mem::size_of::<Patient>(), 56);
    assert_eq!(std::mem::size_of::<CareRelationship>(), 48);
    let p = given(&[registered("1970-01-01"), started("ep-9434765919-1", "RKB")]);
    assert!(p.uncommon.is_none());
}

#[test]
fn an_unreadable_date_of_birth_unregisters_but_names_its_event() {
    let p = given(&[registered("1970-01-01"), registered("1970-13-01")]);
    assert_eq!(p.registration(), None);
    assert_eq!(p.registration_source(), Some(2));
    assert_eq!(p.sources(), vec![(Source::Registration, 2)]);
    let again = given(&[
        registered("1970-13-01"),
        registered("1970-13-01"),
        registered("1970-01-01"),
    ]);
    assert_eq!(again.registration().map(|r| r.position), Some(3));
    assert_eq!(again.registration_source(), Some(3));
    assert!(again.uncommon.is_none(), "nothing uncommon is left");
}

#[test]
fn a_grant_whose_end_cannot_be_read_grants_nothing_but_names_its_event() {
    let now = Timestamp::new(1_000, 0).expect("in range");
    let p = given(&[granted(seconds(2_000)), granted(None)]);
    assert!(!p.has_permission_to_view("RKB", now));
    assert_eq!(p.permissions_to_view().count(), 0);
    assert_eq!(p.permission_source("RKB"), Some(2));
    let valid = given(&[granted(None), granted(seconds(2_000))]);
    assert!(valid.has_permission_to_view("RKB", now));
    assert_eq!(valid.permission_source("RKB"), Some(2));
    let gone = given(&[granted(None), revoked()]);
    assert_eq!(gone.permission_source("RKB"), None);
    assert!(gone.uncommon.is_none());
}

#[test]
fn the_uncommon_part_goes_once_empty_so_equal_states_are_equal() {
    let withdrawn = given(&[
        registered("1970-01-01"),
        objection(1, false),
        objection(1, true),
    ]);
    let ended = given(&[registered("1970-01-01"), started("a", "RKB"), ended("a")]);
    assert!(withdrawn.uncommon.is_none());
    assert_eq!(withdrawn, ended);
    assert_ne!(
        withdrawn,
        given(&[
            registered("1970-01-01"),
            objection(1, false),
            objection(2, true)
        ])
    );
}

#[test]
fn sources_keep_the_order_of_source() {
    let p = given(&[
        EventPayload { kind: None },
        granted(seconds(2_000)),
        started("b", "RKB"),
        started("a", "RYG"),
        objection(2, false),
        objection(1, false),
        registered("1970-01-01"),
        EventPayload { kind: None },
    ]);
    let expected = vec![
        (Source::Registration, 7),
        (Source::Objection(1), 6),
        (Source::Objection(2), 5),
        (Source::CareRelationship("a".into()), 4),
        (Source::CareRelationship("b".into()), 3),
        (Source::PermissionToView("RKB".into()), 2),
        (Source::Unreadable, 1),
    ];
    assert_eq!(p.sources(), expected);
    for (source, position) in expected {
        assert_eq!(p.source(&source), Some(position), "{source:?}");
    }
    assert_eq!(p.objection_sources(Purpose::DirectCare), vec![6, 1]);
    assert_eq!(p.unreadable_events(), 2);
}

#[test]
fn snapshots_read_back_equal() {
    let p = given(&[
        registered("1970-01-01"),
        started("b", "RKB"),
        started("a", "RYG"),
        objection(1, false),
        granted(seconds(2_000)),
        EventPayload { kind: None },
    ]);
    let json = serde_json::to_string(&p).expect("serialises");
    assert_eq!(serde_json::from_str::<Patient>(&json).ok(), Some(p.clone()));
    let bytes = postcard::to_allocvec(&p).expect("serialises");
    assert_eq!(postcard::from_bytes::<Patient>(&bytes).ok(), Some(p));
}

#[test]
fn snapshots_read_back_only_as_states_a_fold_reaches() {
    let registered = given(&[registered("1970-01-01")]);
    let mut json = serde_json::to_value(&registered).expect("serialises");
    json["uncommon"] = serde_json::to_value(Uncommon::default()).expect("serialises");
    assert!(
        serde_json::from_value::<Patient>(json.clone()).is_err(),
        "empty part"
    );
    json["uncommon"]["unregistered_source"] = 1.into();
    assert!(serde_json::from_value::<Patient>(json).is_err(), "both");

    let unreadable = given(&[EventPayload { kind: None }]);
    assert!(unreadable.objects_to(Purpose::DirectCare));
    let mut json = serde_json::to_value(&unreadable).expect("serialises");
    assert_eq!(json["uncommon"]["unreadable"]["events"], 1);
    json["uncommon"]["unreadable"]["events"] = 0.into();
    assert!(
        serde_json::from_value::<Patient>(json).is_err(),
        "unreadable events counted as none would read as no objection"
    );

    let two = given(&[started("a", "RKB"), started("b", "RKB")]);
    let mut json = serde_json::to_value(&two).expect("serialises");
    let relationships = json["care_relationships"].as_array_mut().expect("a list");
    relationships.swap(0, 1);
    assert!(
        serde_json::from_value::<Patient>(json).is_err(),
        "out of order"
    );
}

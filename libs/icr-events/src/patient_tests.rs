//! Given events / when a proposed event / then accepted or refused.

use super::*;
use icr_proto::pb::event_payload::Kind;
use icr_proto::pb::{
    CareRelationshipEnded, CareRelationshipKind, CareRelationshipStarted, ObjectionRecorded,
    ObjectionWithdrawn, PatientRegistered, PermissionToViewGranted, PermissionToViewRevoked,
    PowerOfAttorneyKind, PowerOfAttorneyRegistered, PowerOfAttorneyRevoked,
};

const NHS: &str = "9434765919";

fn now() -> Timestamp {
    "2026-06-01T12:00:00Z".parse().expect("timestamp")
}

fn ev(kind: Kind) -> EventPayload {
    EventPayload { kind: Some(kind) }
}

fn registered() -> EventPayload {
    ev(Kind::PatientRegistered(PatientRegistered {
        nhs_number: NHS.into(),
        gp_practice_ods: "M86003".into(),
        date_of_birth: "1970-01-01".into(),
    }))
}

fn objection(attorney: &str) -> EventPayload {
    ev(Kind::ObjectionRecorded(ObjectionRecorded {
        nhs_number: NHS.into(),
        scope: ObjectionScope::DirectCare as i32,
        attorney_id: attorney.into(),
    }))
}

fn withdrawal(attorney: &str) -> EventPayload {
    ev(Kind::ObjectionWithdrawn(ObjectionWithdrawn {
        nhs_number: NHS.into(),
        scope: ObjectionScope::DirectCare as i32,
        attorney_id: attorney.into(),
    }))
}

fn attorney(id: &str, kind: PowerOfAttorneyKind, from: &str, until: &str) -> EventPayload {
    ev(Kind::PowerOfAttorneyRegistered(PowerOfAttorneyRegistered {
        nhs_number: NHS.into(),
        attorney_id: id.into(),
        kind: kind as i32,
        verified_by: "staff-1".into(),
        valid_from: from.into(),
        valid_until: until.into(),
    }))
}

fn revoke_attorney(id: &str) -> EventPayload {
    ev(Kind::PowerOfAttorneyRevoked(PowerOfAttorneyRevoked {
        nhs_number: NHS.into(),
        attorney_id: id.into(),
    }))
}

fn started(id: &str) -> EventPayload {
    ev(Kind::CareRelationshipStarted(CareRelationshipStarted {
        nhs_number: NHS.into(),
        relationship_id: id.into(),
        organisation_ods: "RKB".into(),
        kind: CareRelationshipKind::InpatientEpisode as i32,
    }))
}

fn ended(id: &str) -> EventPayload {
    ev(Kind::CareRelationshipEnded(CareRelationshipEnded {
        nhs_number: NHS.into(),
        relationship_id: id.into(),
    }))
}

fn granted(until: &str) -> EventPayload {
    let until: Timestamp = until.parse().expect("timestamp");
    ev(Kind::PermissionToViewGranted(PermissionToViewGranted {
        nhs_number: NHS.into(),
        organisation_ods: "RKB".into(),
        until: Some(crate::timestamp_to_proto(until)),
        attorney_id: String::new(),
    }))
}

fn revoked() -> EventPayload {
    ev(Kind::PermissionToViewRevoked(PermissionToViewRevoked {
        nhs_number: NHS.into(),
        organisation_ods: "RKB".into(),

        attorney_id: String::new(),
    }))
}

fn given(events: &[EventPayload]) -> Patient {
    Patient::from_events((1..).zip(events))
}

fn is_precondition(r: Result<(), CommandError>) -> bool {
    matches!(r, Err(CommandError::FailedPrecondition(_)))
}

fn is_exists(r: Result<(), CommandError>) -> bool {
    matches!(r, Err(CommandError::AlreadyExists(_)))
}

#[test]
fn register_is_accepted_and_identical_reregistration_already_exists() {
    assert_eq!(given(&[]).decide(&registered(), now()), Ok(()));
    assert!(is_exists(
        given(&[registered()]).decide(&registered(), now())
    ));
}

#[test]
fn patient_may_object_even_before_registration() {
    assert_eq!(given(&[]).decide(&objection(""), now()), Ok(()));
}

#[test]
fn objection_twice_already_exists_and_withdrawal_needs_an_objection() {
    assert!(is_exists(
        given(&[objection("")]).decide(&objection(""), now())
    ));
    assert!(is_precondition(
        given(&[registered()]).decide(&withdrawal(""), now())
    ));
    assert_eq!(
        given(&[objection("")]).decide(&withdrawal(""), now()),
        Ok(())
    );
}

#[test]
fn objection_then_withdrawal_folds_to_no_objection() {
    let p = given(&[objection(""), withdrawal("")]);
    assert!(!p.objects_to(Purpose::DirectCare));
    assert_eq!(p.version, 2);
    assert!(given(&[objection("")]).objects_to(Purpose::DirectCare));
    assert!(!given(&[objection("")]).objects_to(Purpose::SecondaryUse));
}

#[test]
fn attorney_with_in_date_health_and_welfare_lpa_may_object() {
    let lpa = attorney(
        "att-1",
        PowerOfAttorneyKind::HealthAndWelfareLpa,
        "2020-01-01",
        "",
    );
    assert_eq!(given(&[lpa]).decide(&objection("att-1"), now()), Ok(()));
    let deputy = attorney(
        "att-2",
        PowerOfAttorneyKind::CourtAppointedDeputy,
        "2020-01-01",
        "2030-01-01",
    );
    assert_eq!(given(&[deputy]).decide(&objection("att-2"), now()), Ok(()));
}

#[test]
fn attorney_without_a_valid_power_is_refused() {
    let unknown = given(&[]).decide(&objection("att-1"), now());
    assert!(is_precondition(unknown));
    let financial = attorney(
        "att-1",
        PowerOfAttorneyKind::PropertyAndFinancialLpa,
        "2020-01-01",
        "",
    );
    assert!(is_precondition(
        given(&[financial]).decide(&objection("att-1"), now())
    ));
    let expired = attorney(
        "att-1",
        PowerOfAttorneyKind::HealthAndWelfareLpa,
        "2020-01-01",
        "2026-05-31",
    );
    assert!(is_precondition(
        given(&[expired]).decide(&objection("att-1"), now())
    ));
    let future = attorney(
        "att-1",
        PowerOfAttorneyKind::HealthAndWelfareLpa,
        "2026-06-02",
        "",
    );
    assert!(is_precondition(
        given(&[future]).decide(&withdrawal("att-1"), now())
    ));
    let lpa = attorney(
        "att-1",
        PowerOfAttorneyKind::HealthAndWelfareLpa,
        "2020-01-01",
        "",
    );
    assert!(is_precondition(
        given(&[lpa, revoke_attorney("att-1")]).decide(&objection("att-1"), now())
    ));
}

#[test]
fn attorney_validity_is_judged_by_the_uk_calendar_date() {
    // 23:30 UTC on 31 May is 00:30 on 1 June in London (BST).
    let late: Timestamp = "2026-05-31T23:30:00Z".parse().expect("timestamp");
    let from_june = attorney(
        "att-1",
        PowerOfAttorneyKind::HealthAndWelfareLpa,
        "2026-06-01",
        "",
    );
    assert_eq!(
        given(&[from_june]).decide(&objection("att-1"), late),
        Ok(())
    );
}

#[test]
fn power_of_attorney_register_and_revoke() {
    let lpa = || {
        attorney(
            "att-1",
            PowerOfAttorneyKind::HealthAndWelfareLpa,
            "2020-01-01",
            "",
        )
    };
    assert_eq!(given(&[]).decide(&lpa(), now()), Ok(()));
    assert!(is_exists(given(&[lpa()]).decide(&lpa(), now())));
    assert!(is_precondition(
        given(&[]).decide(&revoke_attorney("att-1"), now())
    ));
    assert_eq!(
        given(&[lpa()]).decide(&revoke_attorney("att-1"), now()),
        Ok(())
    );
}

#[test]
fn care_relationship_start_and_end() {
    assert_eq!(given(&[]).decide(&started("ep-1"), now()), Ok(()));
    assert!(is_exists(
        given(&[started("ep-1")]).decide(&started("ep-1"), now())
    ));
    assert!(is_precondition(given(&[]).decide(&ended("ep-1"), now())));
    let p = given(&[started("ep-1")]);
    assert!(p.has_care_relationship("RKB"));
    assert_eq!(p.decide(&ended("ep-1"), now()), Ok(()));
    assert!(!given(&[started("ep-1"), ended("ep-1")]).has_care_relationship("RKB"));
}

#[test]
fn permission_to_view_must_end_in_the_future_and_lapses() {
    assert!(is_precondition(
        given(&[]).decide(&granted("2026-05-01T00:00:00Z"), now())
    ));
    assert_eq!(
        given(&[]).decide(&granted("2026-07-01T00:00:00Z"), now()),
        Ok(())
    );
    let p = given(&[granted("2026-07-01T00:00:00Z")]);
    assert!(p.has_permission_to_view("RKB", now()));
    let later: Timestamp = "2026-07-01T00:00:00Z".parse().expect("timestamp");
    assert!(!p.has_permission_to_view("RKB", later));
}

#[test]
fn permission_to_view_revoke_needs_an_active_permission() {
    assert!(is_precondition(given(&[]).decide(&revoked(), now())));
    let p = given(&[granted("2026-07-01T00:00:00Z")]);
    assert_eq!(p.decide(&revoked(), now()), Ok(()));
    assert!(
        !given(&[granted("2026-07-01T00:00:00Z"), revoked()]).has_permission_to_view("RKB", now())
    );
}

#[test]
fn unknown_objection_scope_bars_every_purpose() {
    let odd = ev(Kind::ObjectionRecorded(ObjectionRecorded {
        nhs_number: NHS.into(),
        scope: 77,
        attorney_id: String::new(),
    }));
    let p = given(&[odd]);
    assert!(p.objects_to(Purpose::DirectCare));
    assert!(p.objects_to(Purpose::SecondaryUse));
}

#[test]
fn permission_to_view_by_an_attorney_needs_a_valid_power() {
    let mut grant = granted("2026-07-01T00:00:00Z");
    if let Some(Kind::PermissionToViewGranted(e)) = grant.kind.as_mut() {
        e.attorney_id = "att-1".into();
    }
    assert!(is_precondition(given(&[]).decide(&grant, now())));
    let lpa = attorney(
        "att-1",
        PowerOfAttorneyKind::HealthAndWelfareLpa,
        "2020-01-01",
        "",
    );
    assert_eq!(given(&[lpa]).decide(&grant, now()), Ok(()));
}

#[test]
fn unspecified_scope_and_unreadable_events_bar_every_purpose() {
    let unspecified = ev(Kind::ObjectionRecorded(ObjectionRecorded {
        nhs_number: NHS.into(),
        scope: 0,
        attorney_id: String::new(),
    }));
    assert!(given(&[unspecified]).objects_to(Purpose::DirectCare));
    let unreadable = EventPayload { kind: None };
    let p = given(&[registered(), unreadable]);
    assert!(p.objects_to(Purpose::DirectCare) && p.objects_to(Purpose::SecondaryUse));
    assert_eq!(p.version, 2);
}

#[test]
fn summary_care_record_opt_out_bars_no_icr_purpose() {
    let scr = ev(Kind::ObjectionRecorded(ObjectionRecorded {
        nhs_number: NHS.into(),
        scope: ObjectionScope::SummaryCareRecord as i32,
        attorney_id: String::new(),
    }));
    let p = given(&[scr]);
    assert!(!p.objects_to(Purpose::DirectCare) && !p.objects_to(Purpose::SecondaryUse));
}

#[test]
fn sources_name_the_events_behind_current_facts() {
    let p = given(&[registered(), objection(""), started("ep-1")]);
    assert_eq!(p.source(&Source::Registration), Some(1));
    assert_eq!(p.objection_sources(Purpose::DirectCare), vec![2]);
    assert!(p.objection_sources(Purpose::SecondaryUse).is_empty());
    let after = given(&[registered(), objection(""), withdrawal("")]);
    assert!(after.objection_sources(Purpose::DirectCare).is_empty());
}

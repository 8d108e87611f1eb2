//! Given events / when a request / then these facts.

use super::*;
use icr_proto::pb::event_payload::Kind;
use icr_proto::pb::{
    AccessMode, CareRelationshipStarted, ConsentModel, EventPayload, ObjectionRecorded,
    ObjectionScope, OrganisationJoined, PatientRegistered, PermissionToViewGranted, Purpose,
    RegionPolicySet,
};
use jiff::Timestamp;
use jiff::civil::date;

const NHS: &str = "9434765919";

fn now() -> Timestamp {
    "2026-06-01T12:00:00Z".parse().expect("timestamp")
}

fn event(position: u64, stream: &str, kind: Kind) -> RecordedEvent {
    RecordedEvent {
        position,
        stream: stream.into(),
        payload: Some(EventPayload { kind: Some(kind) }),
        ..RecordedEvent::default()
    }
}

fn patient_stream() -> String {
    format!("patient/{NHS}")
}

/// A region with one practice and one hospital, and a patient registered at
/// the practice, born on `dob`, under `model`.
fn given(dob: &str, model: ConsentModel) -> Projections {
    let mut p = Projections::default();
    let events = [
        event(
            1,
            "region/QWU",
            Kind::RegionPolicySet(RegionPolicySet {
                region: "QWU".into(),
                consent_model: model as i32,
                minimum_age: 18,
                ..Default::default()
            }),
        ),
        event(
            2,
            "organisation/M86003",
            Kind::OrganisationJoined(OrganisationJoined {
                ods_code: "M86003".into(),
                name: "Practice".into(),
                region: "QWU".into(),
            }),
        ),
        event(
            3,
            "organisation/RKB",
            Kind::OrganisationJoined(OrganisationJoined {
                ods_code: "RKB".into(),
                name: "Hospital".into(),
                region: "QWU".into(),
            }),
        ),
        event(
            4,
            &patient_stream(),
            Kind::PatientRegistered(PatientRegistered {
                nhs_number: NHS.into(),
                gp_practice_ods: "M86003".into(),
                date_of_birth: dob.into(),
            }),
        ),
    ];
    for e in &events {
        p.apply(e).expect("apply");
    }
    p
}

fn then(p: &Projections, org: &str, source: &str) -> RequestFacts {
    let nhs: NhsNumber = NHS.parse().expect("nhs");
    p.facts(&FactQuery {
        nhs_number: &nhs,
        purpose: Purpose::DirectCare,
        role_code: "R8000",
        organisation_ods: org,
        source_organisation_ods: source,
        access_mode: AccessMode::Normal,
        access_reason: "",
        now: now(),
    })
}

fn add(p: &mut Projections, kind: Kind) {
    let position = p.position() + 1;
    p.apply(&event(position, &patient_stream(), kind))
        .expect("apply");
}

#[test]
fn events_must_arrive_in_position_order() {
    let mut p = given("1970-01-01", ConsentModel::OptOut);
    let gap = event(
        9,
        &patient_stream(),
        Kind::ObjectionRecorded(ObjectionRecorded::default()),
    );
    assert_eq!(
        p.apply(&gap),
        Err(ProjectionError::OutOfOrder {
            expected: 5,
            actual: 9
        })
    );
    assert_eq!(p.position(), 4);
}

#[test]
fn registered_adult_without_relationship_is_in_population_but_not_related() {
    let p = given("1970-01-01", ConsentModel::OptOut);
    let f = then(&p, "RKB", "");
    assert_eq!(f.patient_region, "QWU");
    assert_eq!(
        f.facts,
        Facts {
            no_care_relationship: true,
            ..Facts::default()
        }
    );
}

#[test]
fn care_relationship_objection_and_own_data_facts() {
    let mut p = given("1970-01-01", ConsentModel::OptOut);
    add(
        &mut p,
        Kind::CareRelationshipStarted(CareRelationshipStarted {
            nhs_number: NHS.into(),
            relationship_id: "ep-1".into(),
            organisation_ods: "RKB".into(),
            kind: 2,
        }),
    );
    assert_eq!(then(&p, "RKB", "").facts, Facts::default());
    add(
        &mut p,
        Kind::ObjectionRecorded(ObjectionRecorded {
            nhs_number: NHS.into(),
            scope: ObjectionScope::DirectCare as i32,
            attorney_id: String::new(),
        }),
    );
    let f = then(&p, "RKB", "RKB").facts;
    assert!(f.objection_active && f.own_organisation_data);
    assert!(!then(&p, "RKB", "M86003").facts.own_organisation_data);
}

#[test]
fn minors_unknown_patients_and_unlisted_practices_are_outside_the_population() {
    let minor = given("2008-06-02", ConsentModel::OptOut);
    assert!(then(&minor, "RKB", "").facts.outside_population);
    let eighteen_today = given("2008-06-01", ConsentModel::OptOut);
    assert!(!then(&eighteen_today, "RKB", "").facts.outside_population);
    let unknown = Projections::default();
    let f = then(&unknown, "RKB", "");
    assert!(f.facts.outside_population && f.patient_region.is_empty());
}

#[test]
fn permission_to_view_regions_need_an_active_permission() {
    let mut p = given("1970-01-01", ConsentModel::PermissionToView);
    assert!(then(&p, "RKB", "").facts.permission_to_view_missing);
    let opt_out = given("1970-01-01", ConsentModel::OptOut);
    assert!(!then(&opt_out, "RKB", "").facts.permission_to_view_missing);
    add(
        &mut p,
        Kind::PermissionToViewGranted(PermissionToViewGranted {
            nhs_number: NHS.into(),
            organisation_ods: "RKB".into(),
            attorney_id: String::new(),
            until: Some(icr_events::timestamp_to_proto(
                "2026-07-01T00:00:00Z".parse().expect("ts"),
            )),
        }),
    );
    assert!(!then(&p, "RKB", "").facts.permission_to_view_missing);
    assert!(then(&p, "RLT", "").facts.permission_to_view_missing);
}

#[test]
fn ages_follow_the_calendar_including_leap_day_birthdays() {
    assert_eq!(age_on(date(2000, 2, 29), date(2018, 2, 28)), 17);
    assert_eq!(age_on(date(2000, 2, 29), date(2018, 3, 1)), 18);
    assert_eq!(age_on(date(2000, 6, 1), date(2018, 6, 1)), 18);
    assert_eq!(age_on(date(2000, 6, 2), date(2018, 6, 1)), 17);
    assert_eq!(age_on(date(2030, 1, 1), date(2026, 1, 1)), -4);
}

#[test]
fn policy_set_lists_what_casbin_needs() {
    let p = given("1970-01-01", ConsentModel::OptOut);
    let set = p.policy().policy_set();
    assert_eq!(set.organisations.len(), 2);
    assert_eq!(set.regions, vec![("QWU".to_owned(), vec![])]);
}

#[test]
fn break_glass_needs_a_clinical_role_a_permitting_region_and_a_reason() {
    let mut p = given("1970-01-01", ConsentModel::OptOut);
    let nhs: NhsNumber = NHS.parse().expect("nhs");
    let ask = |p: &Projections, reason: &str| {
        p.facts(&FactQuery {
            nhs_number: &nhs,
            purpose: Purpose::DirectCare,
            role_code: "R8000",
            organisation_ods: "RKB",
            source_organisation_ods: "",
            access_mode: AccessMode::BreakGlass,
            access_reason: reason,
            now: now(),
        })
        .facts
    };
    let f = ask(&p, "unconscious in ED");
    assert!(f.break_glass && !f.break_glass_permitted && !f.access_reason_missing);
    let region = RegionPolicySet {
        region: "QWU".into(),
        consent_model: ConsentModel::OptOut as i32,
        minimum_age: 18,
        break_glass: true,
        ..Default::default()
    };
    let position = p.position() + 1;
    p.apply(&event(
        position,
        "region/QWU",
        Kind::RegionPolicySet(region),
    ))
    .expect("apply");
    assert!(
        !ask(&p, "unconscious in ED").break_glass_permitted,
        "R8000 is not marked clinical here"
    );
    let role = icr_proto::pb::RolePolicySet {
        role_code: "R8000".into(),
        clinical: true,
        ..Default::default()
    };
    let position = p.position() + 1;
    p.apply(&event(position, "role/R8000", Kind::RolePolicySet(role)))
        .expect("apply");
    assert!(ask(&p, "unconscious in ED").break_glass_permitted);
    assert!(ask(&p, "  ").access_reason_missing);
}

#[test]
fn sources_list_the_events_a_decision_rests_on() {
    let p = given("1970-01-01", ConsentModel::OptOut);
    // region (1), practice (2), requester organisation (3), registration (4).
    assert_eq!(then(&p, "RKB", "").sources, vec![1, 2, 3, 4]);
}

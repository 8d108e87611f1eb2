//! Given the service's policy, when a pack is planned, then these changes.

use icr_proto::pb::{OrganisationJoined, RecordSection, RegionPolicySet, RolePolicySet};

use super::*;

pub(super) fn region(code: &str, minimum_age: u32) -> EventPayload {
    EventPayload {
        kind: Some(Kind::RegionPolicySet(RegionPolicySet {
            region: code.to_owned(),
            name: format!("Region {code}"),
            consent_model: ConsentModel::OptOut.into(),
            minimum_age,
            viewing_regions: vec!["QHL".to_owned(), "QJK".to_owned()],
            ..RegionPolicySet::default()
        })),
    }
}

pub(super) fn organisation(ods: &str, region: &str) -> EventPayload {
    EventPayload {
        kind: Some(Kind::OrganisationJoined(OrganisationJoined {
            ods_code: ods.to_owned(),
            name: format!("Trust {ods}"),
            region: region.to_owned(),
        })),
    }
}

pub(super) fn role(code: &str, sections: &[RecordSection]) -> EventPayload {
    EventPayload {
        kind: Some(Kind::RolePolicySet(RolePolicySet {
            role_code: code.to_owned(),
            description: "Clinical Practitioner Access Role".to_owned(),
            clinical: true,
            sections: sections.iter().map(|&s| s.into()).collect(),
            purposes: vec![Purpose::DirectCare.into()],
        })),
    }
}

pub(super) fn left(ods: &str) -> EventPayload {
    EventPayload {
        kind: Some(Kind::OrganisationLeft(OrganisationLeft {
            ods_code: ods.to_owned(),
        })),
    }
}

/// The policy after these events, in log order.
fn given(events: &[EventPayload]) -> CurrentPolicy {
    let mut current = CurrentPolicy::default();
    let mut versions: BTreeMap<String, u64> = BTreeMap::new();
    for (position, payload) in (1..).zip(events) {
        let stream = StreamId::of(payload).expect("stream").to_string();
        let version = versions.entry(stream.clone()).or_default();
        *version += 1;
        current.apply(&RecordedEvent {
            position,
            stream,
            stream_version: *version,
            payload: Some(payload.clone()),
            ..RecordedEvent::default()
        });
    }
    current
}

/// The plan of a pack whose organisations are in one region.
pub(super) fn plan_of(pack: &str, desired: &[EventPayload], current: &CurrentPolicy) -> Plan {
    plan(pack, desired, current).expect("one region")
}

pub(super) fn summary(changes: &[Change]) -> Vec<(String, &'static str, &'static str)> {
    changes
        .iter()
        .map(|c| (c.stream.clone(), c.action(), c.why.as_str()))
        .collect()
}

pub(super) const SECTIONS: [RecordSection; 2] =
    [RecordSection::Medications, RecordSection::Allergies];

pub(super) fn pack() -> Vec<EventPayload> {
    vec![
        region("QWU", 0),
        organisation("RKB", "QWU"),
        role("R8000", &SECTIONS),
    ]
}

#[test]
fn an_empty_service_gets_every_entry_of_the_pack_in_pack_order() {
    let changes = plan_of("cw", &pack(), &CurrentPolicy::default()).changes;
    assert_eq!(
        summary(&changes),
        [
            ("region/QWU".to_owned(), "set-region", "new"),
            ("organisation/RKB".to_owned(), "join-org", "new"),
            ("role/R8000".to_owned(), "set-role", "new"),
        ]
    );
    assert!(
        changes[0]
            .request_id
            .starts_with("policy-apply/cw/region/QWU@0/")
    );
}

#[test]
fn a_service_that_has_the_pack_needs_nothing_whatever_the_list_order() {
    let reordered = [
        region("QWU", 0),
        organisation("RKB", "QWU"),
        role("R8000", &[SECTIONS[1], SECTIONS[0]]),
    ];
    assert_eq!(plan_of("cw", &pack(), &given(&reordered)), Plan::default());
}

#[test]
fn a_changed_entry_is_set_again_under_an_id_for_its_version_and_content() {
    let current = given(&[
        region("QWU", 16),
        organisation("RKB", "QWU"),
        role("R8000", &SECTIONS),
    ]);
    let changes = plan_of("cw", &pack(), &current).changes;
    assert_eq!(
        summary(&changes),
        [("region/QWU".to_owned(), "set-region", "changed")]
    );
    assert!(
        changes[0]
            .request_id
            .starts_with("policy-apply/cw/region/QWU@1/")
    );
    // The same plan twice: the same ids, so a retry is applied at most once.
    assert_eq!(plan_of("cw", &pack(), &current).changes, changes);
    // A different change to the same stream at the same version: another id.
    let other = plan_of(
        "cw",
        &[region("QWU", 5), organisation("RKB", "QWU")],
        &current,
    )
    .changes;
    assert_ne!(other[0].request_id, changes[0].request_id);
}

#[test]
fn an_organisation_that_left_rejoins_under_a_new_id() {
    let current = given(&[
        region("QWU", 0),
        organisation("RKB", "QWU"),
        left("RKB"),
        role("R8000", &SECTIONS),
    ]);
    let changes = plan_of("cw", &pack(), &current).changes;
    assert_eq!(
        summary(&changes),
        [("organisation/RKB".to_owned(), "join-org", "rejoins")]
    );
    assert!(changes[0].request_id.contains("organisation/RKB@2/"));
}

#[test]
fn organisations_of_the_packs_regions_it_no_longer_lists_leave_others_stay() {
    let current = given(&[
        region("QWU", 0),
        organisation("RKB", "QWU"),
        organisation("RRK", "QWU"),
        organisation("RA7", "QUY"),
        role("R8000", &SECTIONS),
        role("R8001", &SECTIONS),
    ]);
    let changes = plan_of("cw", &pack(), &current).changes;
    assert_eq!(
        summary(&changes),
        [(
            "organisation/RRK".to_owned(),
            "leave-org",
            "not in the pack"
        )]
    );
    assert_eq!(changes[0].payload, left("RRK"));
}

#[test]
fn the_plan_reads_as_a_table_row() {
    let changes = plan_of("cw", &pack(), &CurrentPolicy::default()).changes;
    let record = changes[1].record();
    assert_eq!(record["action"], "join-org");
    assert_eq!(record["detail"], "Trust RKB (region QWU)");
    assert_eq!(
        changes[0].record()["detail"],
        "Region QWU: opt_out, minimum age 0"
    );
}

/// The region's own settings, as its administrators set them: unlike the
/// placeholders a neighbouring pack declares.
pub(super) fn birmingham() -> EventPayload {
    EventPayload {
        kind: Some(Kind::RegionPolicySet(RegionPolicySet {
            region: "QHL".to_owned(),
            name: "Birmingham and Solihull".to_owned(),
            consent_model: ConsentModel::OptOut.into(),
            minimum_age: 16,
            viewing_regions: vec!["QWU".to_owned()],
            break_glass: true,
            review_within_days: 7,
            ..RegionPolicySet::default()
        })),
    }
}

/// The pack with a neighbouring region it declares only as a placeholder.
pub(super) fn pack_with_neighbour() -> Vec<EventPayload> {
    let mut pack = pack();
    pack.insert(1, region("QHL", 18));
    pack
}

#[test]
fn a_neighbour_the_service_does_not_know_is_created_from_the_placeholder() {
    let current = given(&pack());
    let changes = plan_of("cw", &pack_with_neighbour(), &current).changes;
    assert_eq!(
        summary(&changes),
        [(
            "region/QHL".to_owned(),
            "set-region",
            "new neighbour (placeholder)"
        )]
    );
    assert_eq!(changes[0].version, 0);
}

#[test]
fn a_neighbour_that_holds_organisations_and_its_own_settings_is_left_alone() {
    let current = given(&[
        region("QWU", 0),
        organisation("RKB", "QWU"),
        role("R8000", &SECTIONS),
        birmingham(),
        organisation("RRK", "QHL"),
        organisation("RQ3", "QHL"),
    ]);
    let planned = plan_of("cw", &pack_with_neighbour(), &current);
    assert_eq!(
        planned.changes,
        [],
        "nothing planned for QHL or its members"
    );
    assert_eq!(
        planned.skipped,
        [Skipped {
            stream: "region/QHL".to_owned(),
            current: birmingham(),
        }]
    );
    let record = planned.skipped[0].record();
    assert_eq!(record["action"], "skip");
    assert_eq!(record["why"], "exists, not the pack's region");
    assert_eq!(
        record["detail"],
        "kept as it is: Birmingham and Solihull: opt_out, minimum age 16, break glass"
    );

    // The pack's own region is still brought to the pack, and its members
    // the pack does not list still leave; the neighbour's stay.
    let drifted = given(&[
        region("QWU", 16),
        organisation("RKB", "QWU"),
        organisation("RLT", "QWU"),
        birmingham(),
        organisation("RRK", "QHL"),
        role("R8000", &SECTIONS),
    ]);
    let planned = plan_of("cw", &pack_with_neighbour(), &drifted);
    assert_eq!(
        summary(&planned.changes),
        [
            ("region/QWU".to_owned(), "set-region", "changed"),
            (
                "organisation/RLT".to_owned(),
                "leave-org",
                "not in the pack"
            ),
        ]
    );
    assert_eq!(planned.skipped.len(), 1);
}

#[test]
fn a_neighbour_already_as_the_pack_declares_it_is_neither_changed_nor_skipped() {
    let current = given(&pack_with_neighbour());
    assert_eq!(
        plan_of("cw", &pack_with_neighbour(), &current),
        Plan::default()
    );
}

#[test]
fn each_change_carries_the_version_it_was_planned_against() {
    let current = given(&[
        region("QWU", 16),
        region("QWU", 17),
        organisation("RKB", "QWU"),
        left("RKB"),
        role("R8000", &SECTIONS),
    ]);
    let changes = plan_of("cw", &pack(), &current).changes;
    let versions: Vec<_> = changes
        .iter()
        .map(|c| (c.stream.as_str(), c.version))
        .collect();
    assert_eq!(versions, [("region/QWU", 2), ("organisation/RKB", 2)]);
}

#[test]
fn every_shipped_pack_owns_exactly_its_own_region() {
    let policies = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies"));
    let owns = |pack: &str| {
        let files = consent_service::PolicyFiles::from_dir(policies, pack).expect("read");
        owned_regions(pack, &files.pack_events().expect("parse")).expect("one region")
    };
    for (pack, region) in [
        ("coventry-warwickshire", "QWU"),
        ("bath-north-east-somerset", "QOX"),
        ("bsw", "QOX"),
        ("my-care-record", "QM7"),
    ] {
        assert_eq!(owns(pack), BTreeSet::from([region.to_owned()]), "{pack}");
    }
}

//! Given the service's policy, when a pack is planned, then these changes.

use icr_proto::pb::{OrganisationJoined, RecordSection, RegionPolicySet, RolePolicySet};

use super::*;

fn region(code: &str, minimum_age: u32) -> EventPayload {
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

fn organisation(ods: &str, region: &str) -> EventPayload {
    EventPayload {
        kind: Some(Kind::OrganisationJoined(OrganisationJoined {
            ods_code: ods.to_owned(),
            name: format!("Trust {ods}"),
            region: region.to_owned(),
        })),
    }
}

fn role(code: &str, sections: &[RecordSection]) -> EventPayload {
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

fn left(ods: &str) -> EventPayload {
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

fn summary(changes: &[Change]) -> Vec<(String, &'static str, &'static str)> {
    changes
        .iter()
        .map(|c| (c.stream.clone(), c.action(), c.why.as_str()))
        .collect()
}

const SECTIONS: [RecordSection; 2] = [RecordSection::Medications, RecordSection::Allergies];

fn pack() -> Vec<EventPayload> {
    vec![
        region("QWU", 0),
        organisation("RKB", "QWU"),
        role("R8000", &SECTIONS),
    ]
}

#[test]
fn an_empty_service_gets_every_entry_of_the_pack_in_pack_order() {
    let changes = plan("cw", &pack(), &CurrentPolicy::default());
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
    assert_eq!(plan("cw", &pack(), &given(&reordered)), []);
}

#[test]
fn a_changed_entry_is_set_again_under_an_id_for_its_version_and_content() {
    let current = given(&[
        region("QWU", 16),
        organisation("RKB", "QWU"),
        role("R8000", &SECTIONS),
    ]);
    let changes = plan("cw", &pack(), &current);
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
    assert_eq!(plan("cw", &pack(), &current), changes);
    // A different change to the same stream at the same version: another id.
    let other = plan("cw", &[region("QWU", 5)], &current);
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
    let changes = plan("cw", &pack(), &current);
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
    let changes = plan("cw", &pack(), &current);
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
    let changes = plan("cw", &pack(), &CurrentPolicy::default());
    let record = changes[1].record();
    assert_eq!(record["action"], "join-org");
    assert_eq!(record["detail"], "Trust RKB (region QWU)");
    assert_eq!(
        changes[0].record()["detail"],
        "Region QWU: opt_out, minimum age 0"
    );
}

//! Given who wrote the service's policy, when a pack is planned, then the
//! changes that overwrite what it did not write last are named as
//! take-overs, and the rest are not.

use icr_proto::pb::Actor;

use super::tests::{
    SECTIONS, birmingham, left, organisation, pack, pack_with_neighbour, plan_of, region, role,
    summary,
};
use super::*;

/// The policy after these `(request id, event)`s, in log order; a request
/// id that is not a pack's is an administrator's (`ig-lead`).
fn given_by(events: &[(&str, EventPayload)]) -> CurrentPolicy {
    let mut current = CurrentPolicy::default();
    let mut versions: BTreeMap<String, u64> = BTreeMap::new();
    for (position, (request_id, payload)) in (1..).zip(events) {
        let stream = StreamId::of(payload).expect("stream").to_string();
        let version = versions.entry(stream.clone()).or_default();
        *version += 1;
        let user_id = if request_id.starts_with("policy-") {
            "policy-pack/cw"
        } else {
            "ig-lead"
        };
        current.apply(&RecordedEvent {
            position,
            stream,
            stream_version: *version,
            request_id: (*request_id).to_owned(),
            actor: Some(Actor {
                user_id: user_id.to_owned(),
                ..Actor::default()
            }),
            payload: Some(payload.clone()),
            ..RecordedEvent::default()
        });
    }
    current
}

/// The taken-over changes as `(stream, action, written by)`.
fn taken(plan: &Plan) -> Vec<(&str, &str, &str)> {
    plan.taken_over
        .iter()
        .map(|t| (t.stream.as_str(), t.action, t.written_by.as_str()))
        .collect()
}

/// The pack `cw` as it applied it: every entry under its own request id.
fn applied_by_cw() -> Vec<(&'static str, EventPayload)> {
    vec![
        ("policy-apply/cw/region/QWU@0/aa", region("QWU", 0)),
        (
            "policy-apply/cw/organisation/RKB@0/bb",
            organisation("RKB", "QWU"),
        ),
        ("policy-apply/cw/role/R8000@0/cc", role("R8000", &SECTIONS)),
    ]
}

const ADMIN: &str = "ig-lead directly, not a pack (request 01JADMIN)";

#[test]
fn an_owned_region_another_pack_set_is_named_as_taken_over() {
    let by = |region_id: &str| {
        given_by(&[
            (region_id, region("QWU", 16)),
            ("policy-pack/cw/1", organisation("RKB", "QWU")),
        ])
    };
    let set_region = |written_by| vec![("region/QWU", "set-region", written_by)];
    let planned = plan_of("cw", &pack(), &by("policy-pack/other/0"));
    assert_eq!(taken(&planned), set_region("pack other"));
    let planned = plan_of("cw", &pack(), &by("policy-apply/other/region/QWU@0/00"));
    assert_eq!(taken(&planned), set_region("pack other"));
    let record = planned.taken_over[0].record();
    assert_eq!(record["action"], "take-over");
    assert_eq!(record["why"], "last written by pack other");
    assert_eq!(record["detail"], "set-region needs --take-over");
    // Set by this pack, loaded or applied: its own to change.
    assert_eq!(taken(&plan_of("cw", &pack(), &by("policy-pack/cw/0"))), []);
    let own = by("policy-apply/cw/region/QWU@0/00");
    assert_eq!(taken(&plan_of("cw", &pack(), &own)), []);
    // A neighbour another pack set is not taken over: it is not owned.
    let neighbour = given_by(&[("policy-pack/bham/0", birmingham())]);
    assert_eq!(
        taken(&plan_of("cw", &pack_with_neighbour(), &neighbour)),
        []
    );
}

#[test]
fn another_packs_region_an_administrator_edited_is_still_taken_over() {
    let current = given_by(&[
        ("policy-pack/bsw/0", region("QWU", 16)),
        ("policy-pack/bsw/1", organisation("RKB", "QWU")),
        ("01JADMIN", region("QWU", 17)),
    ]);
    let planned = plan_of("cw", &pack(), &current);
    assert_eq!(
        taken(&planned),
        [(
            "region/QWU",
            "set-region",
            "ig-lead directly, not a pack (request 01JADMIN), after pack bsw"
        )]
    );
    assert_eq!(
        planned.taken_over[0].sentence(),
        "region/QWU (set-region) was last written by ig-lead directly, not a pack \
         (request 01JADMIN), after pack bsw"
    );
}

#[test]
fn the_same_pack_again_after_an_administrators_edit_needs_take_over() {
    // Applied twice, or after an interrupted apply: its own, no take-over.
    let applied = applied_by_cw();
    assert_eq!(plan_of("cw", &pack(), &given_by(&applied)), Plan::default());
    let interrupted = given_by(&applied[..2]);
    let planned = plan_of("cw", &pack(), &interrupted);
    assert_eq!(summary(&planned.changes).len(), 1, "the role is left");
    assert_eq!(taken(&planned), []);

    // An administrator's deliberate change is not overwritten unasked.
    let mut edited = applied.clone();
    edited.push(("01JADMIN", region("QWU", 16)));
    let planned = plan_of("cw", &pack(), &given_by(&edited));
    assert_eq!(
        summary(&planned.changes),
        [("region/QWU".to_owned(), "set-region", "changed")]
    );
    let after_cw = format!("{ADMIN}, after pack cw");
    assert_eq!(
        taken(&planned),
        [("region/QWU", "set-region", after_cw.as_str())]
    );

    // Nor an organisation an administrator made leave, or renamed.
    let mut left_by_admin = applied.clone();
    left_by_admin.push(("01JADMIN", left("RKB")));
    let planned = plan_of("cw", &pack(), &given_by(&left_by_admin));
    assert_eq!(
        taken(&planned),
        [("organisation/RKB", "join-org", after_cw.as_str())]
    );
    // A leave this pack made is its own to undo.
    let mut left_by_cw = applied;
    left_by_cw.push(("policy-apply/cw/organisation/RKB@1/dd", left("RKB")));
    let planned = plan_of("cw", &pack(), &given_by(&left_by_cw));
    assert_eq!(planned.changes[0].why, Why::Rejoins);
    assert_eq!(taken(&planned), []);
}

#[test]
fn an_organisation_an_administrator_joined_in_the_owned_region_leaves_only_on_take_over() {
    let mut current = applied_by_cw();
    current.push(("01JADMIN", organisation("RRK", "QWU")));
    current.push(("policy-pack/other/3", organisation("RLT", "QWU")));
    current.push((
        "policy-apply/cw/organisation/RQ3@0/ee",
        organisation("RQ3", "QWU"),
    ));
    let planned = plan_of("cw", &pack(), &given_by(&current));
    let leaving: Vec<_> = summary(&planned.changes)
        .into_iter()
        .map(|(stream, action, _)| (stream, action))
        .collect();
    assert_eq!(
        leaving,
        [
            ("organisation/RLT".to_owned(), "leave-org"),
            ("organisation/RQ3".to_owned(), "leave-org"),
            ("organisation/RRK".to_owned(), "leave-org"),
        ]
    );
    // RQ3 this pack joined once and no longer lists: its own to end.
    assert_eq!(
        taken(&planned),
        [
            ("organisation/RLT", "leave-org", "pack other"),
            ("organisation/RRK", "leave-org", ADMIN),
        ]
    );
}

#[test]
fn another_packs_organisations_are_guarded_even_when_the_region_is_the_same() {
    // Pack other set QWU exactly as cw does, so QWU is not written again;
    // its organisation RLT still does not leave unasked.
    let current = given_by(&[
        ("policy-pack/other/0", region("QWU", 0)),
        ("policy-pack/other/1", organisation("RLT", "QWU")),
    ]);
    let planned = plan_of("cw", &pack(), &current);
    assert_eq!(
        taken(&planned),
        [("organisation/RLT", "leave-org", "pack other")]
    );
}

#[test]
fn a_placeholder_a_pack_created_is_no_ones() {
    let created = plan_of("cw", &pack_with_neighbour(), &given_by(&applied_by_cw())).changes;
    assert!(
        created[0]
            .request_id
            .starts_with("policy-apply/cw/placeholder/region/QHL@0/"),
        "{created:?}"
    );
    let bham = [birmingham(), organisation("RRK", "QHL")];
    let mut current = applied_by_cw();
    current.push((created[0].request_id.as_str(), region("QHL", 18)));
    let planned = plan_of("bham", &bham, &given_by(&current));
    assert_eq!(
        summary(&planned.changes),
        [
            ("region/QHL".to_owned(), "set-region", "changed"),
            ("organisation/RRK".to_owned(), "join-org", "new"),
        ]
    );
    assert_eq!(taken(&planned), []);

    // A placeholder an administrator edited since is the administrator's.
    current.push(("01JADMIN", region("QHL", 17)));
    let planned = plan_of("bham", &bham, &given_by(&current));
    assert_eq!(taken(&planned), [("region/QHL", "set-region", ADMIN)]);

    // Under the earlier ids a placeholder was put down to its pack: still
    // taken over from it, which fails closed.
    let earlier = given_by(&[("policy-apply/cw/region/QHL@0/ff", region("QHL", 18))]);
    let planned = plan_of("bham", &bham, &earlier);
    assert_eq!(taken(&planned), [("region/QHL", "set-region", "pack cw")]);
    // Only apply's placeholder ids are no one's; a pack load's are its pack's.
    let loaded = given_by(&[("policy-pack/cw/placeholder/1", region("QHL", 18))]);
    let planned = plan_of("bham", &bham, &loaded);
    assert_eq!(taken(&planned), [("region/QHL", "set-region", "pack cw")]);
}

#[test]
fn a_pack_whose_organisations_span_two_regions_is_refused() {
    let spanning = [
        region("QWU", 0),
        organisation("RKB", "QWU"),
        organisation("RA7", "QUY"),
        organisation("RRK", "QWU"),
    ];
    let error = plan("cw", &spanning, &CurrentPolicy::default()).expect_err("refused");
    assert_eq!(
        error.to_string(),
        "pack cw lists organisations in more than one region (RA7 in QUY; RKB, RRK in QWU): \
         a pack owns the one region its organisations are in, so list each region's \
         organisations in that region's own pack"
    );
}

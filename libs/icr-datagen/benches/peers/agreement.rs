//! Before anything is timed: every peer must give our answers. A benchmark
//! that compared different decisions would compare nothing.
//!
//! Checked, and the run stops on the first difference:
//! - a sample of single questions from the benchmark's mix (2,000; for the
//!   naive casbin only 100 once it holds over 20,000 lines, as each of its
//!   decisions then takes milliseconds to a second): the same outcome
//!   from every peer; for each of our denials that a deny rule decided, the
//!   same reason among the Cedar forbids that fired; no Cedar policy errored;
//! - every role of the pack (and an unknown one) × every section × both
//!   purposes, for a patient we allow: the same outcome from both Cedar
//!   modes (their role policies are written two ways) and (while
//!   it is small) the naive casbin, whose role lines are loaded from the
//!   policy but whose matcher is written by hand;
//! - 200 batches of 20 sections: the same number allowed.

use std::collections::BTreeMap;

use icr_proto::pb::{Purpose, RecordSection};

use crate::Contenders;
use crate::common::{Ask, HOSPITAL, asks, batch_sections};

/// Single questions compared with every peer.
const SAMPLE: usize = 2_000;
/// Single questions compared with the naive casbin when it is large.
const NAIVE_SAMPLE_LARGE: usize = 100;
/// Lines above which the naive casbin is large.
const NAIVE_LARGE_LINES: usize = 20_000;
/// Batches compared.
const BATCHES: usize = 200;
/// Roles asked as in the role matrix: the pack's, and one without a policy.
pub(crate) const ROLES: [&str; 8] = [
    "R8000", "R8001", "R8003", "R8004", "R8008", "R8014", "R1840", "R9999",
];
/// Our reasons for a default deny (no allow line matched); Cedar reports
/// no forbid for them.
const DEFAULT_DENY: [&str; 2] = ["unknown_role", "role_not_permitted"];

/// Compares every peer with ours; panics on a difference. Returns a line
/// saying what was compared and the mix of our outcomes.
pub(crate) fn check(k: &Contenders) -> String {
    let n = k.world.patients;
    let sample = asks(n, SAMPLE, 99);
    let mut outcomes = BTreeMap::<String, usize>::new();
    for (i, ask) in sample.iter().enumerate() {
        let ours = k.world.decide(ask);
        *outcomes.entry(ours.reason.clone()).or_default() += 1;
        for (peer, cedar) in [
            ("cedar", k.cedar.explain(&k.world, ask)),
            ("cedar_store", k.cedar_store.explain(&k.cedar, ask)),
        ] {
            assert_eq!(cedar.errors, 0, "{peer}/{n}: a policy errored on {ask:?}");
            assert_eq!(
                cedar.allowed, ours.allowed,
                "{peer}/{n} differs on {ask:?}: ours {ours:?}, {peer} {cedar:?}"
            );
            let rule_denied = !ours.allowed && !DEFAULT_DENY.contains(&ours.reason.as_str());
            assert!(
                !rule_denied || cedar.reasons.contains(&ours.reason),
                "{peer}/{n}: reason differs on {ask:?}: ours {ours:?}, {peer} {cedar:?}"
            );
        }
        if let Some(naive) = &k.naive {
            let limit = if naive.lines > NAIVE_LARGE_LINES {
                NAIVE_SAMPLE_LARGE
            } else {
                SAMPLE
            };
            if i < limit {
                let allowed = naive.decide(ask, &[ask.section]) == 1;
                assert_eq!(
                    allowed, ours.allowed,
                    "casbin_naive/{n} differs on {ask:?}: ours {ours:?}"
                );
            }
        }
    }
    let matrix = role_matrix(k, &sample);
    let sections = batch_sections();
    for ask in asks(n, BATCHES, 98).iter() {
        let ours = k.world.decide_sections(ask, &sections);
        let ours = ours.iter().filter(|v| v.allowed).count();
        let cedar = k.cedar.decide(&k.world, ask, &sections);
        let store = k.cedar_store.decide(&k.cedar, ask, &sections);
        assert_eq!((cedar, store), (ours, ours), "batch/{n} differs on {ask:?}");
    }
    let naive = k.naive.as_ref().map_or(0, |naive| {
        if naive.lines > NAIVE_LARGE_LINES {
            NAIVE_SAMPLE_LARGE
        } else {
            SAMPLE
        }
    });
    format!(
        "agreement {n}: {SAMPLE} questions (cedar, cedar_store), {naive} (casbin_naive), \
         {matrix} role × section × purpose, {BATCHES} batches of 20: all equal; \
         our outcomes: {outcomes:?}"
    )
}

/// Every role × section × purpose for a patient we allow (a clinician at
/// the hospital may see their medications). Returns how many were compared.
fn role_matrix(k: &Contenders, sample: &[Ask]) -> usize {
    let Some(allowed) = sample.iter().find(|a| {
        a.role_code == "R8000" && a.organisation_ods == HOSPITAL && k.world.decide(a).allowed
    }) else {
        panic!("no allowed question in the sample");
    };
    let sections: Vec<RecordSection> = (1..)
        .map_while(|s| RecordSection::try_from(s).ok())
        .collect();
    let mut compared = 0;
    for role_code in ROLES {
        for &section in &sections {
            for purpose in [Purpose::DirectCare, Purpose::SecondaryUse] {
                let ask = Ask {
                    role_code,
                    section,
                    purpose,
                    ..*allowed
                };
                let ours = k.world.decide(&ask);
                let cedar = k.cedar.explain(&k.world, &ask);
                assert_eq!(cedar.allowed, ours.allowed, "cedar differs on {ask:?}");
                let store = k.cedar_store.explain(&k.cedar, &ask);
                assert_eq!(
                    store.allowed, ours.allowed,
                    "cedar_store differs on {ask:?}"
                );
                let small = k.naive.as_ref().filter(|n| n.lines <= NAIVE_LARGE_LINES);
                if let Some(naive) = small {
                    let naive = naive.decide(&ask, &[section]) == 1;
                    assert_eq!(naive, ours.allowed, "casbin_naive differs on {ask:?}");
                }
                compared += 1;
            }
        }
    }
    compared
}

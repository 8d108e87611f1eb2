//! Random histories for the differential test: policy, registration,
//! consent and care steps, and the requests asked after them. Turned into
//! the `RecordedEvent`s the service would have logged in `recorded.rs`.

use super::*;
pub(super) const REGIONS: [&str; 3] = ["QWU", "QHL", "QGH"];
pub(super) const ORGS: [&str; 5] = ["RKB", "RLT", "M86001", "M86002", "RYG"];
/// The last role never gets a policy.
pub(super) const ROLES: [&str; 4] = ["R8000", "R8008", "R8014", "R9999"];
/// Valid Modulus 11 NHS numbers.
pub(super) const PATIENTS: [&str; 4] = ["9434765919", "9434765870", "4010232137", "9990548609"];
/// Sections role policies grant (99 is unknown to this build).
pub(super) const GRANTED_SECTIONS: [i32; 8] = [1, 6, 14, 15, 16, 17, 18, 99];
/// Sections requests ask for (the last is not a section).
pub(super) const ASKED_SECTIONS: [&str; 8] = [
    "demographics",
    "medications",
    "mental_health",
    "social_care_assessments",
    "social_care_plans",
    "social_care_event_dates",
    "safeguarding_alerts",
    "everything",
];
/// Decision instants and the UK calendar date at each, worked out by hand:
/// just before midnight UTC in summer is already tomorrow in the UK; in a
/// common year someone born on 29 February is a year older on 1 March, not on
/// 28 February; in a leap year 28 February is not their birthday either.
pub(super) const NOWS: [(&str, (i16, i8, i8)); 4] = [
    ("2025-06-30T23:30:00Z", (2025, 7, 1)),
    ("2025-03-01T00:30:00Z", (2025, 3, 1)),
    ("2026-02-28T18:00:00Z", (2026, 2, 28)),
    ("2024-02-28T23:45:00Z", (2024, 2, 28)),
];

/// One event of the random history, by index into the pools above.
#[derive(Debug, Clone)]
pub(super) enum Step {
    Region {
        region: usize,
        consent_model: i32,
        minimum_age: u32,
        viewing: Vec<usize>,
        break_glass: bool,
        self_claim: bool,
        /// Days from today; `None` when not date-gated.
        children_from: Option<i64>,
    },
    Join(usize, usize),
    Leave(usize),
    Role {
        role: usize,
        sections: Vec<i32>,
        purposes: Vec<i32>,
        clinical: bool,
    },
    /// Patient, practice, age in years, days earlier, born on 29 February.
    Register(usize, usize, i16, i64, bool),
    Object(usize, i32),
    Withdraw(usize, i32),
    /// Patient, relationship id, organisation.
    CareStart(usize, usize, usize),
    CareEnd(usize, usize),
    /// Patient, organisation, seconds from now to the lapse.
    Grant(usize, usize, i64),
    Revoke(usize, usize),
    /// An event of a kind this build cannot read.
    Unreadable(usize),
}

/// One random request.
#[derive(Debug, Clone)]
pub(super) struct Ask {
    pub(super) patient: usize,
    pub(super) role: usize,
    pub(super) section: usize,
    pub(super) purpose: Purpose,
    /// An index into `ORGS`, or `ORGS.len()` for the patient's own GP
    /// practice (as the history last registered it), where allows are likely.
    pub(super) org: usize,
    /// 0: no source, 1: the requester's own organisation, 2: `other_org`.
    pub(super) source: usize,
    pub(super) other_org: usize,
    pub(super) mode: AccessMode,
    pub(super) reason: &'static str,
}

#[derive(Debug, Clone)]
pub(super) struct Case {
    pub(super) now: usize,
    pub(super) history: Vec<Step>,
    pub(super) asks: Vec<Ask>,
}

pub(super) fn region_step(region: impl Strategy<Value = usize>) -> impl Strategy<Value = Step> {
    let gate = prop::option::weighted(0.5, select(vec![-365i64, -1, 0, 1, 400]));
    (
        region,
        select(vec![1, 1, 2, 0]),
        select(vec![0u32, 16, 18]),
        prop::collection::vec(0..REGIONS.len(), 0..4),
        any::<bool>(),
        any::<bool>(),
        gate,
    )
        .prop_map(
            |(region, consent_model, minimum_age, viewing, bg, sc, gate)| Step::Region {
                region,
                consent_model,
                minimum_age,
                viewing,
                break_glass: bg,
                self_claim: sc,
                children_from: gate,
            },
        )
}

pub(super) fn role_step(role: impl Strategy<Value = usize>) -> impl Strategy<Value = Step> {
    let sections = prop::collection::vec(select(GRANTED_SECTIONS.to_vec()), 0..16);
    let purposes = prop::collection::vec(select(vec![1, 1, 2, 0]), 1..5);
    (role, sections, purposes, any::<bool>()).prop_map(|(role, sections, purposes, clinical)| {
        Step::Role {
            role,
            sections,
            purposes,
            clinical,
        }
    })
}

pub(super) fn register_step(patient: impl Strategy<Value = usize>) -> impl Strategy<Value = Step> {
    let years = select(vec![0i16, 15, 16, 17, 18, 19, 40, 40, 40, 70]);
    let days = select(vec![-1i64, 0, 0, 1, 200]);
    (
        patient,
        0..ORGS.len(),
        years,
        days,
        prop::bool::weighted(0.15),
    )
        .prop_map(|(p, practice, y, d, leap)| Step::Register(p, practice, y, d, leap))
}

pub(super) fn step() -> impl Strategy<Value = Step> {
    let p = 0..PATIENTS.len();
    let o = 0..ORGS.len();
    let scope = select(vec![1, 2, 3, 9]);
    let until = select(vec![-86_400i64, -1, 0, 1, 2_592_000]);
    prop_oneof![
        1 => region_step(0..REGIONS.len()),
        1 => (o.clone(), 0..REGIONS.len()).prop_map(|(o, r)| Step::Join(o, r)),
        1 => o.clone().prop_map(Step::Leave),
        1 => role_step(0..3usize),
        1 => register_step(p.clone()),
        2 => (p.clone(), scope.clone()).prop_map(|(p, s)| Step::Object(p, s)),
        2 => (p.clone(), scope).prop_map(|(p, s)| Step::Withdraw(p, s)),
        5 => (p.clone(), 0..4usize, o.clone()).prop_map(|(p, i, o)| Step::CareStart(p, i, o)),
        1 => (p.clone(), 0..4usize).prop_map(|(p, i)| Step::CareEnd(p, i)),
        3 => (p.clone(), o.clone(), until).prop_map(|(p, o, u)| Step::Grant(p, o, u)),
        1 => (p.clone(), o).prop_map(|(p, o)| Step::Revoke(p, o)),
        1 => p.prop_map(Step::Unreadable),
    ]
}

/// Most regions, organisations, roles and patients exist from the start;
/// then anything may happen.
pub(super) fn history() -> impl Strategy<Value = Vec<Step>> {
    let setup = |s: BoxedStrategy<Step>| prop::option::weighted(0.95, s);
    let regions: Vec<_> = (0..REGIONS.len())
        .map(|r| setup(region_step(Just(r)).boxed()))
        .collect();
    let joins: Vec<_> = (0..ORGS.len())
        .map(|o| {
            setup(
                (0..REGIONS.len())
                    .prop_map(move |r| Step::Join(o, r))
                    .boxed(),
            )
        })
        .collect();
    let roles: Vec<_> = (0..3).map(|r| setup(role_step(Just(r)).boxed())).collect();
    // A registered patient's practice is usually involved in their care.
    let patients: Vec<_> = (0..PATIENTS.len())
        .map(|p| {
            let registered = (register_step(Just(p)), prop::bool::weighted(0.7));
            let registered = registered.prop_map(|(step, gp)| match step {
                Step::Register(p, practice, ..) if gp => {
                    vec![step, Step::CareStart(p, 0, practice)]
                }
                step => vec![step],
            });
            prop::option::weighted(0.95, registered)
        })
        .collect();
    let care = (0..PATIENTS.len(), 0..4usize, 0..ORGS.len())
        .prop_map(|(p, i, o)| Step::CareStart(p, i, o));
    let care = prop::collection::vec(care, 0..10);
    let rest = prop::collection::vec(step(), 0..30);
    (regions, joins, roles, patients, care, rest).prop_map(|(a, b, c, d, care, rest)| {
        let d = d.into_iter().flatten().flatten().map(Some);
        let setup = a.into_iter().chain(b).chain(c).chain(d).flatten();
        setup.chain(care).chain(rest).collect()
    })
}

pub(super) fn ask() -> impl Strategy<Value = Ask> {
    let purpose = prop_oneof![
        6 => Just(Purpose::DirectCare),
        3 => Just(Purpose::SecondaryUse),
        1 => Just(Purpose::Unspecified),
    ];
    let mode = select(vec![
        AccessMode::Unspecified,
        AccessMode::Normal,
        AccessMode::Normal,
        AccessMode::Normal,
        AccessMode::BreakGlass,
        AccessMode::SelfClaimedRelationship,
    ]);
    let reason = select(vec!["", " \t", "unconscious in ED"]);
    let role = prop_oneof![9 => 0..3usize, 1 => Just(3usize)];
    let who = (0..PATIENTS.len(), role, 0..ASKED_SECTIONS.len());
    let org = prop_oneof![Just(ORGS.len()), 0..ORGS.len()];
    let org = (org, 0..3usize, 0..ORGS.len());
    (who, purpose, org, mode, reason).prop_map(
        |((patient, role, section), purpose, (org, source, other_org), mode, reason)| Ask {
            patient,
            role,
            section,
            purpose,
            org,
            source,
            other_org,
            mode,
            reason,
        },
    )
}

pub(super) fn case() -> impl Strategy<Value = Case> {
    let asks = prop::collection::vec(ask(), 1..100);
    (0..NOWS.len(), history(), asks).prop_map(|(now, history, asks)| Case { now, history, asks })
}

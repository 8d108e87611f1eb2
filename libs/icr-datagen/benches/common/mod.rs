//! What the decision benchmarks share: a generated population folded into
//! projections, our engine built from the built-in policy, the request mix,
//! and memory readings.
//!
//! Every benchmark asks the same questions ([`asks`]), so ours and the peers
//! are timed on the same work.

use std::time::{Duration, Instant};

use icr_datagen::{Population, Profile};
use icr_decision::{AccessRequest, Engine, Verdict};
use icr_events::NhsNumber;
use icr_events::codes::{purpose_name, section_name};
use icr_packs::PolicyFiles;
use icr_projections::{FactQuery, Projections};
use icr_proto::pb::{AccessMode, Purpose, RecordSection};
use jiff::Timestamp;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Largest population by default; `ICR_BENCH_MAX_PATIENTS` overrides it
/// (10,000,000 on a machine with the memory for it).
const DEFAULT_MAX_PATIENTS: u32 = 1_000_000;

/// The hospital every generated patient has a care relationship with.
pub(crate) const HOSPITAL: &str = "RKB";

/// The decision time: fixed, so ages (and so who is a child) do not drift.
pub(crate) fn now() -> Timestamp {
    // A valid literal; parsing it cannot fail.
    "2026-01-15T12:00:00Z"
        .parse()
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

/// Population sizes to measure: 1,000, 100,000 and 1,000,000, or up to
/// `ICR_BENCH_MAX_PATIENTS` (sizes above it are dropped; it is added when
/// larger than the defaults, e.g. 10,000,000).
pub(crate) fn sizes() -> Vec<u32> {
    let max = env_u32("ICR_BENCH_MAX_PATIENTS").unwrap_or(DEFAULT_MAX_PATIENTS);
    let mut sizes: Vec<u32> = [1_000, 100_000, 1_000_000]
        .into_iter()
        .filter(|&n| n <= max)
        .collect();
    if sizes.last() != Some(&max) {
        sizes.push(max);
    }
    sizes
}

/// A positive whole number from the environment, if set and readable.
pub(crate) fn env_u32(name: &str) -> Option<u32> {
    let value = std::env::var(name).ok()?;
    match value.replace('_', "").parse() {
        Ok(n) if n > 0 => Some(n),
        _ => panic!("{name} must be a positive whole number, not '{value}'"),
    }
}

/// What it cost to build something: wall time and resident memory.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cost {
    /// Wall time to build it.
    pub(crate) time: Duration,
    /// Growth of resident memory while building it (what it keeps), KiB.
    pub(crate) rss_growth_kib: u64,
    /// Peak resident memory of the process while building it, KiB.
    pub(crate) peak_kib: u64,
}

impl std::fmt::Display for Cost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.1} s, +{} MiB resident, process peak {} MiB",
            self.time.as_secs_f64(),
            self.rss_growth_kib / 1024,
            self.peak_kib / 1024
        )
    }
}

/// Builds something and measures it. The process's peak is reset first
/// (`/proc/self/clear_refs`), so the peak is the one reached while building
/// this, with everything built before still alive.
pub(crate) fn measure<T>(build: impl FnOnce() -> T) -> (T, Cost) {
    // Linux only; elsewhere the readings are zero.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = status_kib("VmRSS:");
    let start = Instant::now();
    let built = build();
    let time = start.elapsed();
    let cost = Cost {
        time,
        rss_growth_kib: status_kib("VmRSS:").saturating_sub(before),
        peak_kib: status_kib("VmHWM:"),
    };
    (built, cost)
}

/// A `/proc/self/status` field in KiB (0 when it cannot be read).
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// N patients folded into projections, and our engine for their policy.
pub(crate) struct World {
    /// Number of generated patients.
    pub(crate) patients: u32,
    /// Current state, as the service holds it.
    pub(crate) projections: Projections,
    /// Our engine, built as the service builds it.
    pub(crate) engine: Engine,
}

impl World {
    /// Generates `patients` with the default profile and folds them.
    pub(crate) fn build(patients: u32, runtime: &tokio::runtime::Runtime) -> Self {
        let population = Population::new(Profile {
            patients,
            ..Profile::default()
        })
        .expect("the default pack generates");
        let mut projections = Projections::default();
        for event in population.recorded() {
            projections.apply(&event).expect("generated in order");
        }
        let files = PolicyFiles::built_in();
        let policy = projections.policy().policy_set();
        let engine = runtime
            .block_on(Engine::build(&files.model, &files.rules, &policy))
            .expect("the built-in policy builds");
        Self {
            patients,
            projections,
            engine,
        }
    }

    /// Our decision path for one section, as `Authorize` runs it: the
    /// request's facts from the projections, then the engine.
    pub(crate) fn decide(&self, ask: &Ask) -> Verdict {
        self.decide_sections(ask, &[ask.section]).remove(0)
    }

    /// As `AuthorizeBatch` runs it: the facts once, then one decision per
    /// section.
    pub(crate) fn decide_sections(&self, ask: &Ask, sections: &[RecordSection]) -> Vec<Verdict> {
        let facts = self.projections.facts(&FactQuery {
            nhs_number: &ask.nhs_number,
            purpose: ask.purpose,
            role_code: ask.role_code,
            organisation_ods: ask.organisation_ods,
            source_organisation_ods: "",
            access_mode: AccessMode::Normal,
            access_reason: "",
            now: now(),
        });
        let purpose = purpose_name(ask.purpose);
        sections
            .iter()
            .map(|&s| {
                let section = section_name(s);
                let request = AccessRequest {
                    role_code: ask.role_code,
                    section: &section,
                    purpose: &purpose,
                    organisation_ods: ask.organisation_ods,
                    patient_region: &facts.patient_region,
                };
                self.engine.decide(&request, &facts.facts)
            })
            .collect()
    }
}

/// One access question: who asks, about which patient, for what.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ask {
    /// The patient (possibly one the projections do not know).
    pub(crate) nhs_number: NhsNumber,
    /// Requester's national RBAC role code.
    pub(crate) role_code: &'static str,
    /// Requester's organisation.
    pub(crate) organisation_ods: &'static str,
    /// Purpose of use.
    pub(crate) purpose: Purpose,
    /// Section asked about (a batch asks about [`batch_sections`] instead).
    pub(crate) section: RecordSection,
}

/// The kinds of question in the mix, with their weight in percent. Most are
/// a clinician at the patient's hospital asking for medications (allowed
/// unless the patient objects or is a child); the rest are denied for one
/// reason each, or allowed for another role.
const MIX: [(u32, &str, &str, Purpose, RecordSection); 7] = [
    // Allowed, except objecting patients and children.
    (
        62,
        "R8000",
        HOSPITAL,
        Purpose::DirectCare,
        RecordSection::Medications,
    ),
    // Another trust in the agreement: allowed only with a second relationship there.
    (
        10,
        "R8000",
        "RYG",
        Purpose::DirectCare,
        RecordSection::Medications,
    ),
    // A trust outside the agreement (Birmingham): never allowed.
    (
        8,
        "R8000",
        "RRK",
        Purpose::DirectCare,
        RecordSection::Medications,
    ),
    // Admin role: medications not in its role policy.
    (
        8,
        "R8008",
        HOSPITAL,
        Purpose::DirectCare,
        RecordSection::Medications,
    ),
    // Secondary use: no role in this pack has it.
    (
        5,
        "R8000",
        HOSPITAL,
        Purpose::SecondaryUse,
        RecordSection::Medications,
    ),
    // Social worker, social care: allowed like the first line.
    (
        4,
        "R8014",
        HOSPITAL,
        Purpose::DirectCare,
        RecordSection::SocialCareAssessments,
    ),
    // A role with no policy.
    (
        3,
        "R9999",
        HOSPITAL,
        Purpose::DirectCare,
        RecordSection::Medications,
    ),
];

/// Percent of questions about a patient the projections do not know.
const UNKNOWN_PATIENT_PERCENT: u32 = 2;

/// `count` questions about patients among `patients`, drawn with `seed`.
pub(crate) fn asks(patients: u32, count: usize, seed: u64) -> Vec<Ask> {
    let mut rng = SmallRng::seed_from_u64(seed);
    (0..count)
        .map(|_| {
            let nhs_number = if rng.random_range(0..100) < UNKNOWN_PATIENT_PERCENT {
                NhsNumber::synthetic(patients + rng.random_range(0..1000))
            } else {
                NhsNumber::synthetic(rng.random_range(0..patients))
            };
            let mut pick = rng.random_range(0..100);
            let &(_, role_code, organisation_ods, purpose, section) = MIX
                .iter()
                .find(|(weight, ..)| {
                    let found = pick < *weight;
                    pick = pick.saturating_sub(*weight);
                    found
                })
                .unwrap_or(&MIX[0]);
            Ask {
                nhs_number,
                role_code,
                organisation_ods,
                purpose,
                section,
            }
        })
        .collect()
}

/// The 20 sections of a batch: every section once, then demographics again
/// (a viewer's summary page asks for 20; there are 19 sections).
pub(crate) fn batch_sections() -> Vec<RecordSection> {
    let every = (1..)
        .map_while(|n| RecordSection::try_from(n).ok())
        .filter(|s| *s != RecordSection::Unspecified);
    let mut sections: Vec<_> = every.collect();
    sections.push(RecordSection::Demographics);
    assert_eq!(sections.len(), 20, "19 sections and one repeat");
    sections
}

/// Cycles through a slice: each call gives the next item, so a benchmark
/// iteration asks a different question from the last.
pub(crate) struct Cycle<'a, T> {
    items: &'a [T],
    next: usize,
}

impl<'a, T> Cycle<'a, T> {
    /// Starts at the first item.
    pub(crate) fn new(items: &'a [T]) -> Self {
        assert!(!items.is_empty(), "nothing to cycle through");
        Self { items, next: 0 }
    }

    /// The next item.
    pub(crate) fn next_item(&mut self) -> &'a T {
        let item = &self.items[self.next];
        self.next = (self.next + 1) % self.items.len();
        item
    }
}

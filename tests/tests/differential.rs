//! Differential test: the real decision path (`Projections` fold, `facts`,
//! the casbin `Engine` over `policies/`) against a plain reference evaluator
//! written from `policies/README.md` and `policies/rules.csv`.
//!
//! Given a random small history of policy, registration, consent and care
//! events, when random requests are decided at a fixed instant, then both
//! agree: the same allow or deny, for the same reason. The reference models
//! the order in which reasons are named when several facts deny
//! (`policies/README.md`, "Reasons").

#[path = "differential/history.rs"]
mod history;
#[path = "differential/recorded.rs"]
mod recorded;
#[path = "differential/reference.rs"]
mod reference;
#[path = "differential/rules.rs"]
mod rules;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use icr_decision::{AccessRequest, Engine, Verdict};
use icr_events::NhsNumber;
use icr_projections::{FactQuery, Projections};
use icr_proto::pb::event_payload::Kind;
use icr_proto::pb::*;
use jiff::civil::Date;
use jiff::{Span, Timestamp};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};

use history::*;
use recorded::{events, now_of, resolve_org};
use reference::{Answer, Question, World};

const MODEL: &str = include_str!("../../policies/model.conf");
const RULES: &str = include_str!("../../policies/rules.csv");

fn purpose_name(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::DirectCare => "direct_care",
        Purpose::SecondaryUse => "secondary_use",
        Purpose::Unspecified => "unspecified",
    }
}

/// Whether the engine's verdict is the reference's answer.
fn agrees(answer: Answer, verdict: &Verdict) -> bool {
    let reason = verdict.reason.as_str();
    match answer {
        Answer::Allow => verdict.allowed && reason == "role_permits_section",
        Answer::DeniedBy(fact) => !verdict.allowed && reason == fact,
    }
}

/// Decides every request of `case` both ways; the first disagreement, fully
/// described, fails the case. Returns the outcome of each request, named by
/// its reason.
fn compare(case: &Case, runtime: &tokio::runtime::Runtime) -> Result<Vec<String>, String> {
    let (now, uk_today) = now_of(case);
    let log = events(case);
    let mut projections = Projections::default();
    for event in &log {
        projections.apply(event).map_err(|e| e.to_string())?;
    }
    let policy = projections.policy().policy_set();
    let engine = runtime
        .block_on(Engine::build(MODEL, RULES, &policy))
        .map_err(|e| e.to_string())?;
    let world = World::fold(&log);
    let mut answers = Vec::with_capacity(case.asks.len());
    for ask in &case.asks {
        let nhs_number: NhsNumber = PATIENTS[ask.patient].parse().expect("valid");
        let org = ORGS[resolve_org(case, ask)];
        let source = [
            String::new(),
            org.to_owned(),
            ORGS[ask.other_org].to_owned(),
        ];
        let source = source[ask.source].as_str();
        let purpose = purpose_name(ask.purpose);
        let facts = projections.facts(&FactQuery {
            nhs_number: &nhs_number,
            purpose: ask.purpose,
            role_code: ROLES[ask.role],
            organisation_ods: org,
            source_organisation_ods: source,
            access_mode: ask.mode,
            access_reason: ask.reason,
            now,
        });
        let request = AccessRequest {
            role_code: ROLES[ask.role],
            section: ASKED_SECTIONS[ask.section],
            purpose,
            organisation_ods: org,
            patient_region: &facts.patient_region,
        };
        let verdict = engine.decide(&request, &facts.facts);
        let question = Question {
            nhs_number: PATIENTS[ask.patient],
            role_code: ROLES[ask.role],
            section: ASKED_SECTIONS[ask.section],
            purpose,
            organisation_ods: org,
            source_organisation_ods: source,
            break_glass: ask.mode == AccessMode::BreakGlass,
            self_claimed: ask.mode == AccessMode::SelfClaimedRelationship,
            access_reason: ask.reason,
            now: (now.as_second(), now.subsec_nanosecond()),
            uk_today,
        };
        let answer = world.decide(&question);
        if !agrees(answer, &verdict) {
            let history: Vec<String> = log
                .iter()
                .map(|e| format!("  {:>3} {:<20} {:?}", e.position, e.stream, e.payload))
                .collect();
            return Err(format!(
                "disagreement at {now} (UK date {uk_today})\nhistory:\n{}\nrequest: {question:?}\n\
                 reference: {answer:?}\nservice:   {verdict:?}\nfacts:     {facts:?}",
                history.join("\n")
            ));
        }
        answers.push(verdict.reason);
    }
    Ok(answers)
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(64)
}

#[test]
fn the_engine_decides_as_the_reference_does() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let config = Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    };
    let compared = Cell::new(0usize);
    let outcomes: RefCell<BTreeMap<String, usize>> = RefCell::default();
    let started = Instant::now();
    let mut runner = TestRunner::new(config);
    let result = runner.run(&case(), |case| {
        let answers = compare(&case, &runtime).map_err(TestCaseError::fail)?;
        compared.set(compared.get() + answers.len());
        let mut outcomes = outcomes.borrow_mut();
        for reason in answers {
            *outcomes.entry(reason).or_default() += 1;
        }
        Ok(())
    });
    let n = compared.get();
    eprintln!(
        "differential: compared {n} decisions in {} cases, {:.1?}: {:?}",
        cases(),
        started.elapsed(),
        outcomes.borrow()
    );
    match result {
        Ok(()) => {}
        // The reason already shows the history and the request; the case's
        // own Debug would add every other request.
        Err(TestError::Fail(reason, _)) => panic!("{reason}"),
        Err(error) => panic!("{error}"),
    }
    assert!(n > 0, "no decisions were compared");
}

/// The reference's own reading of the deny rules is `rules.csv`, row for
/// row and in file order: an edit to the file fails here until the
/// reference is changed to match, deliberately.
#[test]
fn the_reference_knows_every_rule_in_file_order() {
    let rows: Vec<Vec<&str>> = RULES
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.split(',').map(str::trim).collect())
        .collect();
    let whens: Vec<&str> = rows.iter().map(|row| row[5]).collect();
    let rule_order: Vec<&str> = rules::rules().iter().map(|r| r.when).collect();
    assert_eq!(whens, rule_order);
    let read: Vec<Vec<String>> = rules::rules()
        .iter()
        .map(|r| {
            let unless = match r.unless {
                [] => "-".to_owned(),
                names => names.join("|"),
            };
            [r.role, r.section, r.purpose, "deny", r.when]
                .map(str::to_owned)
                .into_iter()
                .chain([unless])
                .collect()
        })
        .collect();
    let file: Vec<Vec<String>> = rows
        .iter()
        .map(|row| row[1..].iter().map(|&c| c.to_owned()).collect())
        .collect();
    assert_eq!(file, read, "rules.csv and the reference's reading of it");
}

/// The reference's own table of section numbers and names is the API's:
/// a section added to `RecordSection` fails here until the reference
/// knows it, deliberately.
#[test]
fn the_reference_knows_every_section() {
    let api: Vec<(i32, String)> = icr_events::codes::sections()
        .map(|section| (section as i32, icr_events::codes::section_name(section)))
        .collect();
    let reference: Vec<(i32, String)> = reference::SECTIONS
        .iter()
        .map(|&(number, name)| (number, name.to_owned()))
        .collect();
    assert_eq!(reference, api, "the reference's sections and RecordSection");
}

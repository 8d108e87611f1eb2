//! When several facts deny a request, the reason is the one a support desk
//! acts on first (the order is in `reason.rs`).

use super::*;

const MODEL: &str = include_str!("../../../policies/model.conf");
const RULES: &str = include_str!("../../../policies/rules.csv");
const POLICY_README: &str = include_str!("../../../policies/README.md");

/// RKB in QWU, RRK in QHL; QHL's organisations view QWU's patients, not
/// the other way round.
async fn engine() -> Engine {
    let policy = PolicySet {
        roles: vec![RolePolicy {
            role_code: "R8000".into(),
            sections: vec!["medications".into()],
            purposes: vec!["direct_care".into()],
        }],
        organisations: vec![("RKB".into(), "QWU".into()), ("RRK".into(), "QHL".into())],
        regions: vec![("QWU".into(), vec!["QHL".into()]), ("QHL".into(), vec![])],
    };
    Engine::build(MODEL, RULES, &policy).await.expect("engine")
}

fn ask<'a>(role: &'a str, section: &'a str, org: &'a str, region: &'a str) -> AccessRequest<'a> {
    AccessRequest {
        role_code: role,
        section,
        purpose: "direct_care",
        organisation_ods: org,
        patient_region: region,
    }
}

const OBJECTED: Facts = Facts {
    objection_active: true,
    no_care_relationship: true,
    ..Facts::NONE
};

const OUTSIDE: Facts = Facts {
    outside_population: true,
    ..OBJECTED
};

fn reason_of(engine: &Engine, request: &AccessRequest<'_>, facts: &Facts) -> String {
    let verdict = engine.decide(request, facts);
    assert!(!verdict.allowed, "{verdict:?}");
    verdict.reason
}

#[tokio::test]
async fn a_role_without_policy_is_named_before_anything_about_the_patient() {
    let e = engine().await;
    for facts in [OBJECTED, OUTSIDE] {
        let request = ask("R9999", "medications", "RKB", "QWU");
        assert_eq!(reason_of(&e, &request, &facts), "unknown_role");
    }
}

#[tokio::test]
async fn an_organisation_outside_the_agreement_learns_nothing_about_the_patient() {
    let e = engine().await;
    for facts in [OBJECTED, OUTSIDE, Facts::default()] {
        let request = ask("R8000", "medications", "XYZ", "QWU");
        let verdict = e.decide(&request, &facts);
        assert_eq!(
            (
                verdict.allowed,
                verdict.reason.as_str(),
                verdict.explanation.as_str()
            ),
            (
                false,
                "organisation_not_in_agreement",
                "the requester's organisation is not in the sharing agreement"
            ),
            "{facts:?}"
        );
    }
}

#[tokio::test]
async fn a_member_whose_region_does_not_view_the_patients_region_is_told_so() {
    let e = engine().await;
    // RKB is in the agreement: what it lacks is QHL naming QWU as a viewer.
    let request = ask("R8000", "medications", "RKB", "QHL");
    let verdict = e.decide(&request, &Facts::default());
    assert_eq!(
        (
            verdict.allowed,
            verdict.reason.as_str(),
            verdict.explanation.as_str()
        ),
        (
            false,
            "region_may_not_view",
            "the requester's organisation is in the agreement, but its region may not view \
             patients of the patient's region"
        )
    );
    // Recording a care relationship would not help; the objection is the
    // patient's business, not this organisation's.
    assert_eq!(reason_of(&e, &request, &OBJECTED), "region_may_not_view");
    // Outside the population there is no patient region to view.
    assert_eq!(reason_of(&e, &request, &OUTSIDE), "outside_population");
}

#[tokio::test]
async fn within_the_agreement_the_deny_rules_speak_in_file_order() {
    let e = engine().await;
    let request = ask("R8000", "medications", "RRK", "QWU");
    assert_eq!(reason_of(&e, &request, &OUTSIDE), "outside_population");
    assert_eq!(reason_of(&e, &request, &OBJECTED), "objection_active");
    let unrelated = Facts {
        objection_active: false,
        ..OBJECTED
    };
    assert_eq!(reason_of(&e, &request, &unrelated), "no_care_relationship");
    // A section the role may not see is named only when nothing else denies.
    let other = ask("R8000", "mental_health", "RRK", "QWU");
    assert_eq!(reason_of(&e, &other, &OBJECTED), "objection_active");
    assert_eq!(
        reason_of(&e, &other, &Facts::default()),
        "role_not_permitted"
    );
}

#[tokio::test]
async fn a_reason_named_before_the_rule_keeps_the_rule_line_that_decided() {
    let e = engine().await;
    let v = e.decide(&ask("R8000", "medications", "XYZ", "QWU"), &OBJECTED);
    assert_eq!(v.reason, "organisation_not_in_agreement");
    assert_eq!(v.policy_lines.len(), 1, "{v:?}");
    assert!(
        v.policy_lines[0].contains("deny, objection_active"),
        "{v:?}"
    );
}

/// Every reason a decision can carry: the engine's own, and the `when`
/// fact of every rule in `policies/rules.csv`.
fn every_reason() -> Vec<String> {
    let mut reasons: Vec<String> = Reason::ALL.iter().map(|r| r.as_str().to_owned()).collect();
    for line in RULES.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let when = line
            .split(',')
            .map(str::trim)
            .nth(5)
            .expect("a when column");
        if !reasons.iter().any(|r| r == when) {
            reasons.push(when.to_owned());
        }
    }
    reasons
}

#[test]
fn every_reason_is_explained_and_listed_in_the_policy_readme() {
    for reason in every_reason() {
        let text = explain(&reason);
        assert!(
            !text.starts_with("denied by the policy rule"),
            "{reason} has no explanation of its own: {text}"
        );
        assert!(
            POLICY_README.contains(&format!("| `{reason}` |")),
            "policies/README.md does not list {reason} in its reasons table"
        );
    }
}

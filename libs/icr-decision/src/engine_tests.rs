use super::*;

const MODEL: &str = include_str!("../../../policies/model.conf");
const RULES: &str = include_str!("../../../policies/rules.csv");

fn policy() -> PolicySet {
    let role = |code: &str, sections: &[&str]| RolePolicy {
        role_code: code.into(),
        sections: sections.iter().map(|s| (*s).to_owned()).collect(),
        purposes: vec!["direct_care".into()],
    };
    PolicySet {
        roles: vec![
            role("R8000", &["demographics", "medications", "mental_health"]),
            role("R8008", &["demographics", "appointments_and_referrals"]),
        ],
        organisations: vec![("RKB".into(), "QWU".into()), ("RRK".into(), "QHL".into())],
        regions: vec![("QWU".into(), vec!["QHL".into()]), ("QHL".into(), vec![])],
    }
}

async fn engine() -> Engine {
    Engine::build(MODEL, RULES, &policy())
        .await
        .expect("engine")
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

fn reason(v: &Verdict) -> &str {
    &v.reason
}

#[tokio::test]
async fn clinician_in_the_agreement_with_no_denying_fact_is_allowed() {
    let v = engine().await.decide(
        &ask("R8000", "medications", "RKB", "QWU"),
        &Facts::default(),
    );
    assert!(v.allowed, "{v:?}");
    assert_eq!(reason(&v), "role_permits_section");
}

#[tokio::test]
async fn role_section_mapping_is_enforced() {
    let e = engine().await;
    let admin = e.decide(
        &ask("R8008", "medications", "RKB", "QWU"),
        &Facts::default(),
    );
    assert_eq!(
        (admin.allowed, reason(&admin)),
        (false, "role_not_permitted")
    );
    let admin_ok = e.decide(
        &ask("R8008", "appointments_and_referrals", "RKB", "QWU"),
        &Facts::default(),
    );
    assert!(admin_ok.allowed);
    let unknown = e.decide(
        &ask("R9999", "demographics", "RKB", "QWU"),
        &Facts::default(),
    );
    assert_eq!((unknown.allowed, reason(&unknown)), (false, "unknown_role"));
    let bad_section = e.decide(&ask("R8000", "everything", "RKB", "QWU"), &Facts::default());
    assert!(!bad_section.allowed);
    let mut secondary = ask("R8000", "medications", "RKB", "QWU");
    secondary.purpose = "secondary_use";
    let v = e.decide(&secondary, &Facts::default());
    assert_eq!((v.allowed, reason(&v)), (false, "role_not_permitted"));
}

#[tokio::test]
async fn organisations_view_only_regions_that_admit_them() {
    let e = engine().await;
    assert!(
        e.decide(
            &ask("R8000", "medications", "RRK", "QWU"),
            &Facts::default()
        )
        .allowed
    );
    let v = e.decide(
        &ask("R8000", "medications", "RKB", "QHL"),
        &Facts::default(),
    );
    assert_eq!((v.allowed, reason(&v)), (false, "region_may_not_view"));
    let v = e.decide(
        &ask("R8000", "medications", "XYZ", "QWU"),
        &Facts::default(),
    );
    assert_eq!(
        (v.allowed, reason(&v)),
        (false, "organisation_not_in_agreement")
    );
    let v = e.decide(&ask("R8000", "medications", "RKB", ""), &Facts::default());
    assert!(!v.allowed);
}

#[tokio::test]
async fn objection_blocks_other_organisations_data_but_not_own() {
    let e = engine().await;
    let objected = Facts {
        objection_active: true,
        ..Facts::default()
    };
    let v = e.decide(&ask("R8000", "medications", "RKB", "QWU"), &objected);
    assert_eq!((v.allowed, reason(&v)), (false, "objection_active"));
    let own = Facts {
        own_organisation_data: true,
        ..objected
    };
    assert!(
        e.decide(&ask("R8000", "medications", "RKB", "QWU"), &own)
            .allowed
    );
}

#[tokio::test]
async fn care_relationship_population_and_permission_facts_deny() {
    let e = engine().await;
    let r = ask("R8000", "medications", "RKB", "QWU");
    let v = e.decide(
        &r,
        &Facts {
            no_care_relationship: true,
            ..Facts::default()
        },
    );
    assert_eq!((v.allowed, reason(&v)), (false, "no_care_relationship"));
    let v = e.decide(
        &r,
        &Facts {
            outside_population: true,
            own_organisation_data: true,
            ..Facts::default()
        },
    );
    assert_eq!((v.allowed, reason(&v)), (false, "outside_population"));
    let v = e.decide(
        &r,
        &Facts {
            permission_to_view_missing: true,
            ..Facts::default()
        },
    );
    assert_eq!(
        (v.allowed, reason(&v)),
        (false, "permission_to_view_missing")
    );
    assert!(!v.explanation.is_empty());
}

#[tokio::test]
async fn rules_naming_unknown_facts_or_effects_are_rejected_up_front() {
    let bad_fact = "p, *, *, *, deny, sunny_day, -";
    assert!(matches!(
        Engine::build(MODEL, bad_fact, &policy()).await,
        Err(EngineError::Rule { line: 1, .. })
    ));
    let bad_effect = "# comment\np, *, *, *, maybe, -, -";
    assert!(matches!(
        Engine::build(MODEL, bad_effect, &policy()).await,
        Err(EngineError::Rule { line: 2, .. })
    ));
    assert!(
        Engine::build("not a model", RULES, &policy())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn empty_policy_denies_everything() {
    let e = Engine::build(MODEL, RULES, &PolicySet::default())
        .await
        .expect("engine");
    let v = e.decide(
        &ask("R8000", "medications", "RKB", "QWU"),
        &Facts::default(),
    );
    assert!(!v.allowed);
}

#[tokio::test]
async fn break_glass_stands_in_for_a_relationship_only_when_permitted() {
    let e = engine().await;
    let r = ask("R8000", "medications", "RKB", "QWU");
    let unrelated = Facts {
        no_care_relationship: true,
        break_glass: true,
        ..Facts::default()
    };
    let v = e.decide(&r, &unrelated);
    assert_eq!((v.allowed, reason(&v)), (false, "break_glass"));
    let permitted = Facts {
        break_glass_permitted: true,
        ..unrelated
    };
    assert!(e.decide(&r, &permitted).allowed);
    let no_reason = Facts {
        access_reason_missing: true,
        ..permitted
    };
    assert_eq!(reason(&e.decide(&r, &no_reason)), "access_reason_missing");
    let objected = Facts {
        objection_active: true,
        ..permitted
    };
    assert_eq!(reason(&e.decide(&r, &objected)), "objection_active");
}

#[tokio::test]
async fn self_claimed_relationship_needs_a_permitting_region() {
    let e = engine().await;
    let r = ask("R8000", "medications", "RKB", "QWU");
    let claimed = Facts {
        no_care_relationship: true,
        self_claimed_relationship: true,
        ..Facts::default()
    };
    assert_eq!(reason(&e.decide(&r, &claimed)), "self_claimed_relationship");
    assert!(
        e.decide(
            &r,
            &Facts {
                self_claim_permitted: true,
                ..claimed
            }
        )
        .allowed
    );
}

#[tokio::test]
async fn childrens_social_care_is_gated_by_section() {
    let policy = PolicySet {
        roles: vec![RolePolicy {
            role_code: "R8014".into(),
            sections: vec!["social_care_assessments".into(), "demographics".into()],
            purposes: vec!["direct_care".into()],
        }],
        ..policy()
    };
    let e = Engine::build(MODEL, RULES, &policy).await.expect("engine");
    let gated = Facts {
        child_social_care_not_yet_shared: true,
        ..Facts::default()
    };
    let v = e.decide(
        &ask("R8014", "social_care_assessments", "RKB", "QWU"),
        &gated,
    );
    assert_eq!(
        (v.allowed, reason(&v)),
        (false, "child_social_care_not_yet_shared")
    );
    assert!(
        e.decide(&ask("R8014", "demographics", "RKB", "QWU"), &gated)
            .allowed
    );
}

#[tokio::test]
async fn verdicts_name_the_policy_lines_that_decided() {
    let e = engine().await;
    let r = ask("R8000", "medications", "RKB", "QWU");
    let allowed = e.decide(&r, &Facts::default());
    assert_eq!(
        allowed.policy_lines,
        vec!["p, R8000, medications, direct_care, allow, -, -".to_owned()]
    );
    let denied = e.decide(
        &r,
        &Facts {
            objection_active: true,
            ..Facts::default()
        },
    );
    assert_eq!(denied.policy_lines.len(), 1);
    assert!(
        denied.policy_lines[0].contains("deny, objection_active"),
        "{:?}",
        denied.policy_lines
    );
    let unknown = e.decide(
        &ask("R9999", "medications", "RKB", "QWU"),
        &Facts::default(),
    );
    assert!(unknown.policy_lines.is_empty());
}

#[tokio::test]
async fn rules_may_exempt_on_several_facts_but_each_must_be_known() {
    let ok = "p, *, *, *, deny, no_care_relationship, own_organisation_data|break_glass";
    assert!(Engine::build(MODEL, ok, &policy()).await.is_ok());
    let bad = "p, *, *, *, deny, no_care_relationship, own_organisation_data|sunshine";
    assert!(matches!(
        Engine::build(MODEL, bad, &policy()).await,
        Err(EngineError::Rule { line: 1, .. })
    ));
}

#[tokio::test]
async fn rules_naming_unknown_sections_or_purposes_are_rejected() {
    let typo = "p, *, social_care_plan, *, deny, child_social_care_not_yet_shared, -";
    assert!(matches!(
        Engine::build(MODEL, typo, &policy()).await,
        Err(EngineError::Rule { line: 1, .. })
    ));
    let purpose = "p, *, *, direct_cares, deny, objection_active, -";
    assert!(Engine::build(MODEL, purpose, &policy()).await.is_err());
}

#[tokio::test]
async fn a_remembered_verdict_is_the_one_casbin_gives_for_those_facts_only() {
    let e = engine().await;
    let request = ask("R8000", "medications", "RKB", "QWU");
    let objecting = Facts {
        objection_active: true,
        ..Facts::default()
    };
    for _ in 0..3 {
        assert_eq!(
            e.decide(&request, &Facts::default()),
            e.evaluate(&request, &Facts::default())
        );
        let denied = e.decide(&request, &objecting);
        assert_eq!(denied, e.evaluate(&request, &objecting));
        assert_eq!(
            reason(&denied),
            "objection_active",
            "facts are part of the key"
        );
    }
    let other_region = e.decide(
        &ask("R8000", "medications", "RKB", "QHL"),
        &Facts::default(),
    );
    assert!(!other_region.allowed, "the region is part of the key");
}

#[tokio::test]
async fn a_matcher_casbin_cannot_evaluate_stops_the_build() {
    // Passes the model check, but a fact looked up by the effect's name is
    // not a boolean: every request would fail at evaluation.
    let model = MODEL.replace("r.facts[p.when]", "r.facts[p.eft]");
    let error = Engine::build(&model, RULES, &policy()).await.err();
    assert!(
        matches!(&error, Some(EngineError::Model(m)) if m.contains("probe")),
        "{error:?}"
    );
}

/// A fault met where casbin evaluates.
#[derive(Debug, Clone, Copy)]
enum InjectedFault {
    /// casbin is asked with too few request values: a real casbin error.
    CasbinError,
    /// A panic where casbin evaluates.
    CasbinPanic,
}

impl Engine {
    /// Decides one request with `fault` met where casbin evaluates,
    /// bypassing the verdict cache: what a casbin error or panic turns into.
    fn decide_with_fault(
        &self,
        request: &AccessRequest<'_>,
        facts: &Facts,
        fault: InjectedFault,
    ) -> Verdict {
        let outcome = catch_unwind(AssertUnwindSafe(|| match fault {
            InjectedFault::CasbinError => {
                self.enforcer
                    .enforce_ex((request.role_code, request.section, *facts))
            }
            InjectedFault::CasbinPanic => panic!("injected fault: panic inside casbin evaluation"),
        }));
        self.verdict(request, facts, outcome)
    }
}

#[tokio::test]
async fn casbin_errors_and_panics_are_denies_with_their_own_reasons() {
    let e = engine().await;
    let ask = ask("R8000", "medications", "RKB", "QWU");
    for (fault, reason) in [
        (InjectedFault::CasbinError, "evaluation_failed"),
        (InjectedFault::CasbinPanic, "evaluation_panicked"),
    ] {
        let v = e.decide_with_fault(&ask, &Facts::default(), fault);
        assert_eq!((v.allowed, v.reason.as_str()), (false, reason), "{fault:?}");
    }
    // The engine still answers, and nothing failed was remembered.
    assert!(e.decide(&ask, &Facts::default()).allowed);
}

//! The declaration against the files that follow from it.

use icr_events::policy_readme::{UPDATE, generated_block_is};

use super::*;

const RULES: &str = include_str!("../../../policies/rules.csv");
/// Where the generated fact table starts and ends in `policies/README.md`.
const BEGIN: &str = "<!-- fact table: generated from libs/icr-decision/src/facts.rs -->";
const END: &str = "<!-- end of fact table -->";

/// The fact table `policies/README.md` shows, from the declaration.
fn fact_table() -> String {
    let mut table =
        String::from("| fact | true when | a deny on it is explained as |\n|---|---|---|\n");
    for fact in Facts::DECLARED {
        let denial = fact.denial.unwrap_or("(used only in `unless`)");
        table += &format!("| `{}` | {} | {denial} |\n", fact.name, fact.holds_when);
    }
    table
}

#[test]
fn the_policy_readme_fact_table_is_the_declaration() {
    let expected = fact_table();
    if generated_block_is(BEGIN, END, &expected) {
        return;
    }
    panic!(
        "policies/README.md's fact table differs from the declaration in facts.rs; \
         run the test again with {UPDATE}=1 to rewrite it, or paste:\n{expected}"
    );
}

#[test]
fn every_fact_a_rule_denies_on_has_its_wording() {
    for line in RULES.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let when = line
            .split(',')
            .map(str::trim)
            .nth(5)
            .expect("a when column");
        let fact = Fact::named(when).unwrap_or_else(|| panic!("{when} is not declared"));
        assert!(
            fact.denial.is_some(),
            "{when} denies in rules.csv but has no `denial` wording"
        );
    }
}

#[test]
fn names_and_lookups_follow_the_declaration() {
    assert_eq!(Facts::NAMES.len(), Facts::DECLARED.len());
    for (name, fact) in Facts::NAMES.iter().zip(Facts::DECLARED) {
        assert_eq!(*name, fact.name);
        assert_eq!(Fact::named(name), Some(fact));
        assert_eq!(Facts::default().holds(name), Some(false));
        assert_eq!(Facts::NONE.holds(name), Some(false));
        assert_eq!(Facts::EVERY.holds(name), Some(true));
    }
    assert_eq!(Facts::EVERY.holds("no_such_fact"), None);
    assert_eq!(Fact::named("no_such_fact"), None);
}

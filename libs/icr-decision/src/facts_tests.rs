//! The declaration against the files that follow from it.

use super::*;

const RULES: &str = include_str!("../../../policies/rules.csv");
/// Where the generated fact table starts and ends in `policies/README.md`.
const BEGIN: &str = "<!-- fact table: generated from libs/icr-decision/src/facts.rs -->";
const END: &str = "<!-- end of fact table -->";
/// Set to rewrite the table in `policies/README.md` instead of failing.
const UPDATE: &str = "UPDATE_POLICY_README";

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
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies/README.md");
    let readme = std::fs::read_to_string(path).expect("policies/README.md");
    let (Some(start), Some(end)) = (readme.find(BEGIN), readme.find(END)) else {
        panic!("policies/README.md lacks the markers `{BEGIN}` and `{END}`");
    };
    let start = start + BEGIN.len() + 1;
    let expected = fact_table();
    if readme[start..end] == expected {
        return;
    }
    if std::env::var_os(UPDATE).is_some() {
        let updated = format!("{}{expected}{}", &readme[..start], &readme[end..]);
        std::fs::write(path, updated).expect("write policies/README.md");
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

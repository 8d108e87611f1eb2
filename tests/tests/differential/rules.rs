//! The reference's own reading of the deny rules of `policies/rules.csv`.

use icr_decision::Facts;

use super::reference::Question;

/// One deny rule as the reference understands it from `policies/README.md`:
/// `*` or a name for role, section and purpose; the `when` fact; the
/// `unless` facts. Written out here, not read from `rules.csv`, so that an
/// edit to `rules.csv` that changes decisions fails the differential until
/// this reading is changed too (`the_reference_knows_every_rule_in_file_order`
/// holds the two to the same rows).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rule {
    pub(crate) role: &'static str,
    pub(crate) section: &'static str,
    pub(crate) purpose: &'static str,
    pub(crate) when: &'static str,
    pub(crate) unless: &'static [&'static str],
}

impl Rule {
    /// Whether the rule denies `q` given `facts`. A fact the declaration
    /// does not know fails the test: the reference must know every fact.
    pub(crate) fn denies(&self, q: &Question<'_>, facts: &Facts) -> bool {
        let column = |rule: &str, asked: &str| rule == "*" || rule == asked;
        let holds = |name: &str| {
            facts
                .holds(name)
                .unwrap_or_else(|| panic!("the reference names `{name}`, which is not declared"))
        };
        column(self.role, q.role_code)
            && column(self.section, q.section)
            && column(self.purpose, q.purpose)
            && holds(self.when)
            && !self.unless.iter().any(|&name| holds(name))
    }
}

/// A rule for every role, section and purpose given.
const fn rule(
    section: &'static str,
    purpose: &'static str,
    when: &'static str,
    unless: &'static [&'static str],
) -> Rule {
    Rule {
        role: "*",
        section,
        purpose,
        when,
        unless,
    }
}

/// The deny rules, in the order they are tried: README's rules, read by
/// hand.
const RULES: &[Rule] = &[
    rule("*", "*", "outside_population", &[]),
    rule(
        "*",
        "direct_care",
        "objection_active",
        &["own_organisation_data"],
    ),
    rule("*", "secondary_use", "objection_active", &[]),
    rule(
        "*",
        "direct_care",
        "no_care_relationship",
        &[
            "own_organisation_data",
            "break_glass",
            "self_claimed_relationship",
        ],
    ),
    rule(
        "*",
        "direct_care",
        "permission_to_view_missing",
        &["own_organisation_data"],
    ),
    rule("*", "*", "break_glass", &["break_glass_permitted"]),
    rule(
        "*",
        "*",
        "self_claimed_relationship",
        &["self_claim_permitted"],
    ),
    rule("*", "*", "access_reason_missing", &[]),
    rule(
        "social_care_assessments",
        "*",
        "child_social_care_not_yet_shared",
        &[],
    ),
    rule(
        "social_care_plans",
        "*",
        "child_social_care_not_yet_shared",
        &[],
    ),
    rule(
        "social_care_event_dates",
        "*",
        "child_social_care_not_yet_shared",
        &[],
    ),
];

/// The deny rules, in the order they are tried.
pub(crate) fn rules() -> Vec<Rule> {
    RULES.to_vec()
}

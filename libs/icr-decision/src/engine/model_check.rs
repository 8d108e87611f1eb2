//! Checks of the casbin model text before an engine is built from it, and
//! the requests a built engine is probed with.
//!
//! casbin reads a model it cannot evaluate without complaint and fails (or
//! panics) only when a request meets the matcher: an unknown function is a
//! rhai error, and its pattern functions (`regexMatch`, `keyMatch2` to
//! `keyMatch5`, `ipMatch`) panic on a pattern that does not compile. Every
//! decision would then be a deny. So the model must have exactly the shape
//! the engine feeds it, and its matcher may call only the functions the
//! engine registers (`g` and `anyFact`), whose arguments cannot panic.

use std::collections::BTreeMap;

use super::{AccessRequest, EngineError, PolicySet};
use crate::facts::Facts;

/// What the engine passes to casbin, in order.
pub(crate) const REQUEST_FIELDS: [&str; 6] =
    ["role", "section", "purpose", "org", "region", "facts"];
/// What the engine writes as a policy line, in order.
pub(crate) const POLICY_FIELDS: [&str; 6] = ["role", "section", "purpose", "eft", "when", "unless"];
/// Deny overrides allow; anything else changes what a deny rule means.
const EFFECT: &str = "some(where (p.eft == allow)) && !some(where (p.eft == deny))";
/// The functions a matcher may call: the role manager and our fact lookup.
const FUNCTIONS: [&str; 2] = ["g", "anyFact"];

fn fail(message: impl Into<String>) -> EngineError {
    EngineError::Model(message.into())
}

/// `[section]` → `key = value` lines, comments and blank lines left out.
fn sections(text: &str) -> Result<BTreeMap<String, Vec<(String, String)>>, EngineError> {
    let mut sections: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut current = None;
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = Some(name.trim().to_owned());
            sections.entry(name.trim().to_owned()).or_default();
            continue;
        }
        let (Some(section), Some((key, value))) = (&current, line.split_once('=')) else {
            return Err(fail(format!("not `key = value` in a section: {line}")));
        };
        let entry = (key.trim().to_owned(), value.trim().to_owned());
        sections.entry(section.clone()).or_default().push(entry);
    }
    Ok(sections)
}

/// The single `key = value` of `section`, which must be `key`.
fn only<'a>(
    sections: &'a BTreeMap<String, Vec<(String, String)>>,
    section: &str,
    key: &str,
) -> Result<&'a str, EngineError> {
    match sections.get(section).map(Vec::as_slice) {
        Some([(k, value)]) if k == key => Ok(value),
        _ => Err(fail(format!("[{section}] must hold exactly `{key} = …`"))),
    }
}

fn fields(value: &str) -> Vec<&str> {
    value.split(',').map(str::trim).collect()
}

fn squeeze(text: &str) -> String {
    text.split_whitespace().collect()
}

/// Checks that the model has the request, policy, role and effect the
/// engine uses, and a matcher that calls only registered functions and
/// reads only defined fields.
pub(crate) fn check_model(text: &str) -> Result<(), EngineError> {
    let sections = sections(text)?;
    let known = [
        "request_definition",
        "policy_definition",
        "role_definition",
        "policy_effect",
        "matchers",
    ];
    if let Some(other) = sections.keys().find(|s| !known.contains(&s.as_str())) {
        return Err(fail(format!("unknown section [{other}]")));
    }
    let request = only(&sections, "request_definition", "r")?;
    if fields(request) != REQUEST_FIELDS {
        let want = REQUEST_FIELDS.join(", ");
        return Err(fail(format!("request_definition must be `r = {want}`")));
    }
    let policy = only(&sections, "policy_definition", "p")?;
    if fields(policy) != POLICY_FIELDS {
        let want = POLICY_FIELDS.join(", ");
        return Err(fail(format!("policy_definition must be `p = {want}`")));
    }
    if fields(only(&sections, "role_definition", "g")?) != ["_", "_"] {
        return Err(fail("role_definition must be `g = _, _`"));
    }
    if squeeze(only(&sections, "policy_effect", "e")?) != squeeze(EFFECT) {
        return Err(fail(format!("policy_effect must be `e = {EFFECT}`")));
    }
    check_matcher(only(&sections, "matchers", "m")?)
}

/// Every call in the matcher is to a registered function and every `r.` or
/// `p.` field is defined. String literals are skipped.
fn check_matcher(matcher: &str) -> Result<(), EngineError> {
    let chars: Vec<char> = matcher.chars().collect();
    let mut i = 0;
    let next_non_space = |from: usize| chars[from..].iter().find(|c| !c.is_whitespace());
    while i < chars.len() {
        let c = chars[i];
        if c == '"' {
            let close = chars[i + 1..].iter().position(|&c| c == '"');
            let Some(close) = close else {
                return Err(fail("matcher has an unclosed string"));
            };
            i += close + 2;
            continue;
        }
        if !(c.is_alphabetic() || c == '_') {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
            i += 1;
        }
        let ident: String = chars[start..i].iter().collect();
        let after_dot = start > 0 && chars[start - 1] == '.';
        if after_dot {
            continue;
        }
        if next_non_space(i) == Some(&'(') && !FUNCTIONS.contains(&ident.as_str()) {
            return Err(fail(format!(
                "matcher calls `{ident}`; only {} are registered (casbin's pattern functions panic on a bad pattern)",
                FUNCTIONS.join(" and ")
            )));
        }
        let defined: &[&str] = match ident.as_str() {
            "r" => &REQUEST_FIELDS,
            "p" => &POLICY_FIELDS,
            _ => continue,
        };
        if chars.get(i) == Some(&'.') {
            let field: String = chars[i + 1..]
                .iter()
                .take_while(|c| c.is_alphanumeric() || **c == '_')
                .collect();
            if !defined.contains(&field.as_str()) {
                return Err(fail(format!(
                    "matcher reads `{ident}.{field}`, which is not defined"
                )));
            }
        }
    }
    Ok(())
}

/// The requests an engine is probed with, each with no fact holding and
/// with every fact holding: one that no line allows, and one that the first
/// role's first allow line matches from an organisation in the agreement.
pub(crate) fn probes(policy: &PolicySet) -> Vec<(AccessRequest<'_>, Facts)> {
    let unknown = AccessRequest {
        role_code: "R0000",
        section: "demographics",
        purpose: "direct_care",
        organisation_ods: "X0000",
        patient_region: "",
    };
    let member = policy.organisations.first();
    let allowed = policy.roles.iter().find_map(|role| {
        Some(AccessRequest {
            role_code: &role.role_code,
            section: role.sections.first()?,
            purpose: role.purposes.first()?,
            organisation_ods: member.map_or("X0000", |(ods, _)| ods),
            patient_region: member.map_or("", |(_, region)| region),
        })
    });
    std::iter::once(unknown)
        .chain(allowed)
        .flat_map(|request| [(request, Facts::default()), (request, Facts::EVERY)])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODEL: &str = include_str!("../../../../policies/model.conf");

    fn with(from: &str, to: &str) -> String {
        assert!(MODEL.contains(from), "{from}");
        MODEL.replace(from, to)
    }

    fn message(model: &str) -> String {
        match check_model(model) {
            Err(EngineError::Model(m)) => m,
            other => panic!("expected a model error, got {other:?}"),
        }
    }

    #[test]
    fn the_shipped_model_passes() {
        check_model(MODEL).expect("policies/model.conf");
    }

    #[test]
    fn pattern_functions_that_panic_on_bad_patterns_are_refused() {
        let model = with("r.section == p.section", "regexMatch(r.section, p.section)");
        assert!(message(&model).contains("regexMatch"));
        let model = with("r.role == p.role", "keyMatch2(r.role, p.role)");
        assert!(message(&model).contains("keyMatch2"));
    }

    #[test]
    fn fields_and_definitions_must_be_the_ones_the_engine_uses() {
        let model = with("r.facts[p.when]", "r.facts[p.reason]");
        assert!(message(&model).contains("p.reason"));
        let model = with(
            "p = role, section, purpose, eft, when, unless",
            "p = role, section, eft",
        );
        assert!(message(&model).contains("policy_definition"));
        let model = with("r = role, section", "r = section, role");
        assert!(message(&model).contains("request_definition"));
        let model = with("g = _, _", "g = _, _, _");
        assert!(message(&model).contains("role_definition"));
        let model = with("!some(where (p.eft == deny))", "true");
        assert!(message(&model).contains("policy_effect"));
        let model = format!("{MODEL}\n[unknown]\nx = 1\n");
        assert!(message(&model).contains("[unknown]"));
    }

    #[test]
    fn function_names_inside_strings_are_not_calls() {
        let model = with("\"viewers-of:\"", "\"regexMatch(viewers-of:\"");
        check_model(&model).expect("a string is not a call");
    }
}

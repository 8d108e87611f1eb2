//! The deny rules file and the `anyFact` function its rules are read with.

use casbin::rhai::{Dynamic, Map};
use icr_events::codes::{purpose_from_name, role_code, section_from_name};

use crate::error::EngineError;
use crate::facts::Facts;

/// `anyFact(facts, "a|b")`: whether any named fact holds. A name the facts
/// lack counts as not holding, so an `unless` exemption fails closed.
pub(crate) fn any_fact(facts: Dynamic, names: Dynamic) -> Dynamic {
    let (Some(facts), Ok(names)) = (facts.try_cast::<Map>(), names.into_immutable_string()) else {
        return Dynamic::from(false);
    };
    let holds = |name: &str| {
        facts
            .get(name)
            .and_then(|v| v.as_bool().ok())
            .unwrap_or(false)
    };
    Dynamic::from(names.split('|').any(|name| name != "-" && holds(name)))
}

/// Parses the deny rules file: `p, role, section, purpose, eft, when, unless`.
pub(crate) fn parse_rules(rules: &str) -> Result<Vec<Vec<String>>, EngineError> {
    let mut lines = Vec::new();
    for (index, raw) in rules.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fail = |message: String| EngineError::Rule {
            line: index + 1,
            message,
        };
        let cols: Vec<String> = line.split(',').map(|c| c.trim().to_owned()).collect();
        let [ptype, rest @ ..] = cols.as_slice() else {
            return Err(fail("empty".into()));
        };
        if ptype != "p" || rest.len() != 6 {
            return Err(fail(
                "expected: p, role, section, purpose, eft, when, unless".into(),
            ));
        }
        if !matches!(rest[3].as_str(), "allow" | "deny") {
            return Err(fail(format!(
                "effect must be allow or deny, not '{}'",
                rest[3]
            )));
        }
        let [role, section, purpose, ..] = [&rest[0], &rest[1], &rest[2]];
        if role != "*" && role_code("role", role).is_err() {
            return Err(fail(format!(
                "role must be * or an RBAC code, not '{role}'"
            )));
        }
        if section != "*" && section_from_name(section).is_none() {
            return Err(fail(format!("unknown section '{section}'")));
        }
        if purpose != "*" && purpose_from_name(purpose).is_none() {
            return Err(fail(format!("unknown purpose '{purpose}'")));
        }
        let unless = rest[5].split('|');
        for fact in std::iter::once(rest[4].as_str()).chain(unless) {
            if fact != "-" && !Facts::NAMES.contains(&fact) {
                return Err(fail(format!(
                    "unknown fact '{fact}'; known: {}",
                    Facts::NAMES.join(", ")
                )));
            }
        }
        lines.push(rest.to_vec());
    }
    Ok(lines)
}

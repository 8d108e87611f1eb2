//! Building the casbin enforcer from policy, and asking it.

use std::collections::{HashMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::RwLock;

use casbin::function_map::OperatorFunction;
use casbin::rhai::{Dynamic, Map};
use casbin::{CoreApi, DefaultModel, Enforcer, MemoryAdapter, MgmtApi};
use icr_events::codes::{purpose_from_name, role_code, section_from_name};
use serde::Serialize;

use crate::Verdict;
use crate::reason::{Reason, explain};

/// Why an engine could not be built from a model, rules and policy. The
/// service then has no engine and denies every request until a policy change
/// builds again.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// casbin rejected the model or a policy line.
    #[error("casbin: {0}")]
    Casbin(#[from] casbin::Error),
    /// A deny rule is malformed or names a fact no request carries.
    #[error("rule {line}: {message}")]
    Rule {
        /// 1-based line in the rules file.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// The sections and purposes one national RBAC role may see.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RolePolicy {
    /// The role code, e.g. `R8000`.
    pub role_code: String,
    /// Section names (`medications`, …).
    pub sections: Vec<String>,
    /// Purpose names (`direct_care`, …).
    pub purposes: Vec<String>,
}

/// The current policy: what casbin is told, as small as the rules allow
/// (roles, organisations, regions; never one line per patient).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicySet {
    /// Role policies.
    pub roles: Vec<RolePolicy>,
    /// `(ODS code, region)` of every organisation in the agreement.
    pub organisations: Vec<(String, String)>,
    /// `(region, regions whose organisations may view its patients)`.
    pub regions: Vec<(String, Vec<String>)>,
}

/// Facts about one request, computed from the projections. The field names
/// are the fact names deny rules use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Facts {
    /// The patient is not in the population of their region's ICR.
    pub outside_population: bool,
    /// The patient objects to use of their record for this purpose.
    pub objection_active: bool,
    /// The requester's organisation has no active care relationship.
    pub no_care_relationship: bool,
    /// The region needs permission to view and the requester's organisation has none.
    pub permission_to_view_missing: bool,
    /// The data comes from the requester's own organisation.
    pub own_organisation_data: bool,
    /// The requester asks for emergency (break-glass) access.
    pub break_glass: bool,
    /// The patient's region allows break glass and the requester's role is clinical.
    pub break_glass_permitted: bool,
    /// The requester claims a care relationship that is not recorded.
    pub self_claimed_relationship: bool,
    /// The patient's region allows self-claimed relationships.
    pub self_claim_permitted: bool,
    /// Break glass or a self-claimed relationship without a reason.
    pub access_reason_missing: bool,
    /// The patient is a child and the region does not share children's
    /// social care yet on the decision date.
    pub child_social_care_not_yet_shared: bool,
}

impl Facts {
    /// Every fact name a rule may use.
    pub const NAMES: [&'static str; 11] = [
        "outside_population",
        "objection_active",
        "no_care_relationship",
        "permission_to_view_missing",
        "own_organisation_data",
        "break_glass",
        "break_glass_permitted",
        "self_claimed_relationship",
        "self_claim_permitted",
        "access_reason_missing",
        "child_social_care_not_yet_shared",
    ];
}

/// Who asks to see what, in the vocabulary of the policy files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessRequest<'a> {
    /// National RBAC role code.
    pub role_code: &'a str,
    /// Section name.
    pub section: &'a str,
    /// Purpose name.
    pub purpose: &'a str,
    /// Requester's organisation ODS code.
    pub organisation_ods: &'a str,
    /// The patient's region (empty when unknown).
    pub patient_region: &'a str,
}

/// A built enforcer for one version of the policy.
pub struct Engine {
    enforcer: Enforcer,
    roles: HashSet<String>,
    /// Verdicts already reached, by request and facts. The engine is built
    /// for one version of the policy and replaced when it changes, so the
    /// cache never outlives the policy its verdicts came from.
    verdicts: RwLock<HashMap<VerdictKey, Verdict>>,
}

/// Most verdicts kept before the cache starts over. Distinct combinations
/// of role, section, purpose, organisation, region and facts are few (far
/// fewer than requests), so this bounds memory, not the hit rate.
const MAX_CACHED_VERDICTS: usize = 1 << 16;

/// Everything a verdict depends on besides the policy.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct VerdictKey {
    /// Role, section, purpose, organisation and region, NUL-separated.
    request: String,
    facts: Facts,
}

impl VerdictKey {
    fn new(request: &AccessRequest<'_>, facts: &Facts) -> Self {
        let parts = [
            request.role_code,
            request.section,
            request.purpose,
            request.organisation_ods,
            request.patient_region,
        ];
        Self {
            request: parts.join("\0"),
            facts: *facts,
        }
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("roles", &self.roles.len())
            .finish_non_exhaustive()
    }
}

const ORG: &str = "org:";
const REGION: &str = "region:";
const VIEWERS_OF: &str = "viewers-of:";

/// `anyFact(facts, "a|b")`: whether any named fact holds. A name the facts
/// lack counts as not holding, so an `unless` exemption fails closed.
fn any_fact(facts: Dynamic, names: Dynamic) -> Dynamic {
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
fn parse_rules(rules: &str) -> Result<Vec<Vec<String>>, EngineError> {
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

impl Engine {
    /// Builds an enforcer from the model text, the deny rules text and the
    /// policy. Every line is checked here, so evaluation cannot meet a rule
    /// it does not understand.
    pub async fn build(model: &str, rules: &str, policy: &PolicySet) -> Result<Self, EngineError> {
        let model = DefaultModel::from_str(model).await?;
        let mut enforcer = Enforcer::new(model, MemoryAdapter::default()).await?;
        enforcer.add_function("anyFact", OperatorFunction::Arg2(any_fact));
        let mut lines = parse_rules(rules)?;
        for role in &policy.roles {
            for purpose in &role.purposes {
                for section in &role.sections {
                    let line = [&role.role_code, section, purpose, "allow", "-", "-"];
                    lines.push(line.map(str::to_owned).to_vec());
                }
            }
        }
        let mut groups = Vec::new();
        for (ods, region) in &policy.organisations {
            groups.push(vec![format!("{ORG}{ods}"), format!("{REGION}{region}")]);
        }
        for (region, viewers) in &policy.regions {
            let target = format!("{VIEWERS_OF}{region}");
            for viewer in std::iter::once(region).chain(viewers) {
                groups.push(vec![format!("{REGION}{viewer}"), target.clone()]);
            }
        }
        if !lines.is_empty() {
            enforcer.add_policies(lines).await?;
        }
        if !groups.is_empty() {
            enforcer.add_grouping_policies(groups).await?;
        }
        let roles = policy.roles.iter().map(|r| r.role_code.clone()).collect();
        Ok(Self {
            enforcer,
            roles,
            verdicts: RwLock::default(),
        })
    }

    /// Decides one request. Never panics and never allows on an error.
    ///
    /// The first request with a given combination of role, section,
    /// purpose, organisation, region and facts is evaluated by casbin; the
    /// same combination again gets the same verdict from the cache.
    /// Evaluation failures are not cached.
    pub fn decide(&self, request: &AccessRequest<'_>, facts: &Facts) -> Verdict {
        let key = VerdictKey::new(request, facts);
        let cached = self.verdicts.read().map(|v| v.get(&key).cloned());
        if let Ok(Some(verdict)) = cached {
            return verdict;
        }
        let verdict = self.evaluate(request, facts);
        if verdict.reason != Reason::EvaluationFailed.as_str()
            && let Ok(mut verdicts) = self.verdicts.write()
        {
            if verdicts.len() >= MAX_CACHED_VERDICTS {
                verdicts.clear();
            }
            verdicts.insert(key, verdict.clone());
        }
        verdict
    }

    /// Decides one request with casbin.
    fn evaluate(&self, request: &AccessRequest<'_>, facts: &Facts) -> Verdict {
        let org = format!("{ORG}{}", request.organisation_ods);
        let args = (
            request.role_code,
            request.section,
            request.purpose,
            org.as_str(),
            request.patient_region,
            *facts,
        );
        let outcome = catch_unwind(AssertUnwindSafe(|| self.enforcer.enforce_ex(args)));
        let (allowed, reason, lines) = match outcome {
            Ok(Ok((true, matched))) => (
                true,
                Reason::RolePermitsSection.as_str().to_owned(),
                matched,
            ),
            Ok(Ok((false, matched))) => {
                let deny = matched
                    .into_iter()
                    .find(|rule| rule.get(3).is_some_and(|e| e == "deny"));
                match deny {
                    Some(rule) => {
                        let fact = rule.get(4).cloned();
                        let reason =
                            fact.unwrap_or_else(|| Reason::EvaluationFailed.as_str().to_owned());
                        (false, reason, vec![rule])
                    }
                    None => (
                        false,
                        self.default_deny_reason(request, &org).as_str().to_owned(),
                        Vec::new(),
                    ),
                }
            }
            Ok(Err(error)) => {
                tracing::error!(%error, "casbin evaluation failed; denying");
                (
                    false,
                    Reason::EvaluationFailed.as_str().to_owned(),
                    Vec::new(),
                )
            }
            Err(_) => {
                tracing::error!("casbin evaluation panicked; denying");
                (
                    false,
                    Reason::EvaluationFailed.as_str().to_owned(),
                    Vec::new(),
                )
            }
        };
        Verdict {
            allowed,
            explanation: explain(&reason),
            reason,
            policy_lines: lines
                .iter()
                .map(|rule| format!("p, {}", rule.join(", ")))
                .collect(),
        }
    }

    /// Names what was missing when no rule allowed the request. This only
    /// words the reason; the decision was casbin's.
    fn default_deny_reason(&self, request: &AccessRequest<'_>, org: &str) -> Reason {
        if !self.roles.contains(request.role_code) {
            return Reason::UnknownRole;
        }
        let viewers = format!("{VIEWERS_OF}{}", request.patient_region);
        let rm = self.enforcer.get_role_manager();
        if !rm.read().has_link(org, &viewers, None) {
            return Reason::OrganisationNotInAgreement;
        }
        Reason::RoleNotPermitted
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;

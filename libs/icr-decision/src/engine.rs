//! Building the casbin enforcer from policy, and asking it.

use std::collections::{HashMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::RwLock;

use crate::Verdict;
use crate::error::EngineError;
use crate::facts::Facts;
use crate::reason::{Reason, explain};
use crate::rules::{any_fact, parse_rules};
use casbin::function_map::OperatorFunction;
use casbin::{CoreApi, DefaultModel, Enforcer, MemoryAdapter, MgmtApi};

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

/// casbin's answer to one request, or its error, or its panic.
type Outcome = std::thread::Result<casbin::Result<(bool, Vec<Vec<String>>)>>;

/// A built enforcer for one version of the policy.
pub struct Engine {
    enforcer: Enforcer,
    roles: HashSet<String>,
    /// ODS codes of the organisations in the agreement, in any region.
    members: HashSet<String>,
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

impl Engine {
    /// Builds an enforcer from the model text, the deny rules text and the
    /// policy. Every line is checked here, so evaluation cannot meet a rule
    /// it does not understand.
    pub async fn build(model: &str, rules: &str, policy: &PolicySet) -> Result<Self, EngineError> {
        model_check::check_model(model)?;
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
        let members = policy
            .organisations
            .iter()
            .map(|(o, _)| o.clone())
            .collect();
        let engine = Self {
            enforcer,
            roles,
            members,
            verdicts: RwLock::default(),
        };
        engine.probe(policy)?;
        Ok(engine)
    }

    /// Evaluates probe requests with no fact holding and with every fact
    /// holding: one that no line allows, and one that the first role's
    /// first allow line matches from an organisation in the agreement (so
    /// that casbin, which stops at the first false condition, reads a whole
    /// allow line). A matcher or line casbin cannot evaluate then stops the
    /// build instead of turning every later decision into a deny.
    fn probe(&self, policy: &PolicySet) -> Result<(), EngineError> {
        for (request, facts) in model_check::probes(policy) {
            let args = Self::args(&request, &facts);
            let outcome = catch_unwind(AssertUnwindSafe(|| self.enforcer.enforce_ex(args)));
            let failed = match outcome {
                Ok(Ok(_)) => continue,
                Ok(Err(error)) => error.to_string(),
                Err(_) => "panicked".to_owned(),
            };
            let (role, section) = (request.role_code, request.section);
            return Err(EngineError::Model(format!(
                "a probe request ({role}, {section}) failed: {failed}"
            )));
        }
        Ok(())
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
        let failed = [Reason::EvaluationFailed, Reason::EvaluationPanicked];
        if !failed.iter().any(|r| verdict.reason == r.as_str())
            && let Ok(mut verdicts) = self.verdicts.write()
        {
            if verdicts.len() >= MAX_CACHED_VERDICTS {
                verdicts.clear();
            }
            verdicts.insert(key, verdict.clone());
        }
        verdict
    }

    /// What casbin is asked for a request.
    fn args<'a>(
        request: &AccessRequest<'a>,
        facts: &Facts,
    ) -> (&'a str, &'a str, &'a str, String, &'a str, Facts) {
        (
            request.role_code,
            request.section,
            request.purpose,
            format!("{ORG}{}", request.organisation_ods),
            request.patient_region,
            *facts,
        )
    }

    /// Decides one request with casbin.
    fn evaluate(&self, request: &AccessRequest<'_>, facts: &Facts) -> Verdict {
        let args = Self::args(request, facts);
        let outcome = catch_unwind(AssertUnwindSafe(|| self.enforcer.enforce_ex(args)));
        self.verdict(request, facts, outcome)
    }

    /// Reads casbin's answer, its error or its panic as a verdict.
    fn verdict(&self, request: &AccessRequest<'_>, facts: &Facts, outcome: Outcome) -> Verdict {
        let failed = |reason: Reason| (false, reason.as_str().to_owned(), Vec::new());
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
                let reason = match deny.as_ref().map(|rule| rule.get(4)) {
                    // The rules parser refuses a deny line without a `when`
                    // column; were one to get here, it is named a failure.
                    Some(None) => Reason::EvaluationFailed.as_str().to_owned(),
                    Some(Some(fact)) => self.deny_reason(request, facts, Some(fact)),
                    None => self.deny_reason(request, facts, None),
                };
                (false, reason, deny.into_iter().collect())
            }
            Ok(Err(error)) => {
                tracing::error!(%error, "casbin evaluation failed; denying");
                failed(Reason::EvaluationFailed)
            }
            Err(_) => {
                tracing::error!("casbin evaluation panicked; denying");
                failed(Reason::EvaluationPanicked)
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
}

mod deny_reason;
mod model_check;

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "precedence_tests.rs"]
mod precedence_tests;

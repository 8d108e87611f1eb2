//! Access decisions.
//!
//! The projections turn a request into [`Facts`]; an [`Engine`] combines them
//! with the casbin model (`policies/model.conf`), the shared deny rules
//! (`policies/rules.csv`) and the current [`PolicySet`] (roles, organisations,
//! regions). The logic lives in those files, not here: this crate builds the
//! enforcer, asks it, and reads back which rule decided.
//!
//! Fail closed: an evaluation error, a panic inside casbin, an unknown role or
//! an unknown fact name in a rule is a deny with its own reason, never an allow.
#![forbid(unsafe_code)]

mod engine;
mod error;
mod facts;
mod reason;
mod rules;

pub use engine::{AccessRequest, Engine, PolicySet, RolePolicy};
pub use error::EngineError;
pub use facts::{Fact, FactInputs, FactQuery, Facts, age_on};
pub use reason::{Reason, explain};

/// The answer to one access request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Whether the section may be released.
    pub allowed: bool,
    /// Machine-readable reason (see [`Reason`]).
    pub reason: String,
    /// Short human explanation.
    pub explanation: String,
    /// The casbin policy lines that decided (`p, …`): the allow lines for an
    /// allow, the matching deny rule for a deny; empty when nothing matched.
    pub policy_lines: Vec<String>,
}

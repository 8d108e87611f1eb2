//! The part of an R4 `Consent` the import reads
//! (<https://hl7.org/fhir/R4/consent.html>), as it arrives.
//!
//! Everything is optional here, even where R4 requires it, so that a
//! missing element is reported by the mapping with its path instead of as
//! a bare parse error. Elements the mapping must refuse when present (the
//! data restrictions of a provision) are kept as raw JSON: their presence
//! is what counts, not their content. Modifier elements are not read here
//! at all: they are searched for in the JSON value itself, wherever they
//! are (see `modifiers`).

use serde::Deserialize;
use serde_json::Value;

/// An R4 `Consent`, reduced to the elements the import looks at.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Consent {
    pub(crate) id: Option<String>,
    #[serde(default)]
    pub(crate) contained: Vec<ContainedResource>,
    pub(crate) status: Option<String>,
    pub(crate) scope: Option<CodeableConcept>,
    #[serde(default)]
    pub(crate) category: Vec<CodeableConcept>,
    pub(crate) patient: Option<Reference>,
    #[serde(default)]
    pub(crate) performer: Vec<Reference>,
    pub(crate) policy_rule: Option<CodeableConcept>,
    pub(crate) provision: Option<Provision>,
}

/// A resource in `Consent.contained`, reduced to what identifies it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ContainedResource {
    pub(crate) resource_type: String,
    pub(crate) id: Option<String>,
    #[serde(default)]
    pub(crate) identifier: Vec<Identifier>,
}

/// `Consent.provision`, with its nested provisions.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Provision {
    #[serde(rename = "type")]
    pub(crate) kind: Option<String>,
    pub(crate) period: Option<Period>,
    #[serde(default)]
    pub(crate) actor: Vec<Actor>,
    #[serde(default)]
    pub(crate) action: Vec<CodeableConcept>,
    #[serde(default)]
    pub(crate) security_label: Vec<Value>,
    #[serde(default)]
    pub(crate) purpose: Vec<Coding>,
    #[serde(default)]
    pub(crate) class: Vec<Value>,
    #[serde(default)]
    pub(crate) code: Vec<Value>,
    pub(crate) data_period: Option<Value>,
    #[serde(default)]
    pub(crate) data: Vec<Value>,
    #[serde(default)]
    pub(crate) provision: Vec<Value>,
}

/// `Consent.provision.actor`: who the rule applies to, in what role.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Actor {
    pub(crate) role: Option<CodeableConcept>,
    pub(crate) reference: Option<Reference>,
}

/// An R4 `Reference`: literal (`reference`), logical (`identifier`), or both.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Reference {
    pub(crate) reference: Option<String>,
    #[serde(rename = "type")]
    pub(crate) resource_type: Option<String>,
    pub(crate) identifier: Option<Identifier>,
}

/// An R4 `Identifier`: a value in a namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub(crate) struct Identifier {
    pub(crate) system: Option<String>,
    pub(crate) value: Option<String>,
}

/// An R4 `CodeableConcept`: one concept, possibly coded in several systems.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct CodeableConcept {
    #[serde(default)]
    pub(crate) coding: Vec<Coding>,
}

impl CodeableConcept {
    /// Whether any coding of the concept is `code` in `system`.
    pub(crate) fn has(&self, system: &str, code: &str) -> bool {
        self.coding.iter().any(|c| c.is(system, code))
    }
}

/// An R4 `Coding`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Coding {
    pub(crate) system: Option<String>,
    pub(crate) code: Option<String>,
}

impl Coding {
    /// Whether this is `code` in `system`.
    pub(crate) fn is(&self, system: &str, code: &str) -> bool {
        self.system.as_deref() == Some(system) && self.code.as_deref() == Some(code)
    }

    /// `system|code`, as FHIR search writes a token, for messages.
    pub(crate) fn token(&self) -> String {
        format!(
            "{}|{}",
            self.system.as_deref().unwrap_or(""),
            self.code.as_deref().unwrap_or("")
        )
    }
}

/// An R4 `Period`; either end may be absent.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Period {
    pub(crate) start: Option<String>,
    pub(crate) end: Option<String>,
}

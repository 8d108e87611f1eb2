//! The part of FHIR R4 this crate writes: `AuditEvent`, a `collection`
//! `Bundle`, and the data types they use.
//!
//! Only the elements we emit are modelled, with R4's JSON names and
//! cardinalities (<https://hl7.org/fhir/R4/auditevent.html>,
//! <https://hl7.org/fhir/R4/bundle.html>). Optional elements are skipped
//! when empty, because FHIR JSON must not carry empty arrays, objects or
//! strings (<https://hl7.org/fhir/R4/json.html>).

use serde::{Deserialize, Serialize};

/// A FHIR R4 `AuditEvent`: one recorded access decision.
///
/// `resourceType` is written from the struct name (serde's struct tag), so
/// it is always `"AuditEvent"` and reading anything else fails.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "resourceType", rename_all = "camelCase")]
pub struct AuditEvent {
    /// Logical id: the decision's ULID.
    pub id: String,
    /// What kind of event this is (1..1).
    #[serde(rename = "type")]
    pub event_type: Coding,
    /// More specific kinds of event.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subtype: Vec<Coding>,
    /// `C`, `R`, `U`, `D` or `E` (execute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// When the event was recorded: an instant with a time zone (1..1).
    pub recorded: String,
    /// `0` success, `4` minor, `8` serious, `12` major failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// Description of the outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome_desc: Option<String>,
    /// Why the access was asked for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub purpose_of_event: Vec<CodeableConcept>,
    /// Who took part (1..*).
    pub agent: Vec<Agent>,
    /// The system that recorded the event (1..1).
    pub source: Source,
    /// What the event was about.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entity: Vec<Entity>,
}

/// An actor in the event (`AuditEvent.agent`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Agent {
    /// How the agent took part.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub agent_type: Option<CodeableConcept>,
    /// The agent's roles, e.g. their national RBAC job role.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub role: Vec<CodeableConcept>,
    /// Who the agent is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub who: Option<Reference>,
    /// Whether this agent initiated the event (1..1 in R4).
    pub requestor: bool,
}

/// The system that observed and recorded the event (`AuditEvent.source`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    /// Where the observer runs, e.g. a host or site name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// The observer itself (1..1).
    pub observer: Reference,
    /// What kind of system the observer is.
    #[serde(rename = "type", default, skip_serializing_if = "Vec::is_empty")]
    pub source_type: Vec<Coding>,
}

/// Something the event was about (`AuditEvent.entity`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entity {
    /// The entity itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub what: Option<Reference>,
    /// Kind of entity.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub entity_type: Option<Coding>,
    /// What the entity was in the event, e.g. the patient.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Coding>,
    /// Further facts as tagged values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub detail: Vec<EntityDetail>,
}

/// One tagged value on an entity (`AuditEvent.entity.detail`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntityDetail {
    /// The tag, e.g. `record-section`.
    #[serde(rename = "type")]
    pub detail_type: String,
    /// The value.
    pub value_string: String,
}

/// A code from a code system (FHIR `Coding`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coding {
    /// The code system's URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// The code.
    pub code: String,
    /// Its display text in the code system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

/// One or more codings for one concept (FHIR `CodeableConcept`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeableConcept {
    /// The codings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub coding: Vec<Coding>,
}

impl From<Coding> for CodeableConcept {
    fn from(coding: Coding) -> Self {
        Self {
            coding: vec![coding],
        }
    }
}

/// A business identifier (FHIR `Identifier`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identifier {
    /// The namespace of the value, e.g. `https://fhir.nhs.uk/Id/nhs-number`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// The value.
    pub value: String,
}

impl Identifier {
    /// An identifier in a known namespace.
    pub fn new(system: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            system: Some(system.into()),
            value: value.into(),
        }
    }

    /// An identifier whose namespace is not known.
    pub fn unqualified(value: impl Into<String>) -> Self {
        Self {
            system: None,
            value: value.into(),
        }
    }
}

/// A reference to something by business identifier (FHIR `Reference`);
/// nothing here is a RESTful resource, so there is no `reference` URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    /// The resource type referred to, e.g. `Patient`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    /// Its business identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<Identifier>,
    /// Text for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

/// A FHIR R4 `Bundle` of type `collection`: audit events exported together,
/// with no meaning beyond being together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "resourceType")]
pub struct Bundle {
    /// Always `collection`.
    #[serde(rename = "type")]
    pub bundle_type: String,
    /// The events, in audit order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entry: Vec<BundleEntry>,
}

/// One entry of a [`Bundle`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BundleEntry {
    /// The audit event.
    pub resource: AuditEvent,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requestor_false_is_written_because_r4_requires_it() {
        let agent = Agent {
            agent_type: None,
            role: vec![],
            who: None,
            requestor: false,
        };
        let json = serde_json::to_value(&agent).expect("serialises");
        assert_eq!(json, serde_json::json!({ "requestor": false }));
    }
}

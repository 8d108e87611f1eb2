//! Import of FHIR R4 `Consent` resources as objections and permissions to
//! view: one resource → one [`ImportPlan`] (the request to send), or a
//! [`Rejection`] naming the element that cannot be represented.
//!
//! The mapping is strict by design. The service's consent model is small:
//! an objection covers a whole scope of use for every organisation until
//! withdrawn, and a permission to view lets one organisation see the whole
//! record until a set time. A `Consent` that says anything finer (an
//! exception, a data class, one organisation denied, a time-limited
//! objection) is rejected rather than widened or narrowed to fit, and a
//! value is never filled in by guess.
//!
//! # Mapping
//!
//! | `Consent` element | Accepted | Becomes |
//! | --- | --- | --- |
//! | `status` | `active`; `inactive` (the consent ended) | record / grant; withdraw / revoke |
//! | `scope` | consentscope `patient-privacy` | (required) |
//! | `category` | each one LOINC `59284-0` or v3-ActCode `INFA` | (required) |
//! | `patient` | NHS number identifier: contained Patient, `Patient?identifier=…`, or `reference.identifier` | `nhs_number` |
//! | `performer` | exactly one: the patient, or a RelatedPerson with an identifier in the attorney id system | submitter patient / `attorney_id` |
//! | `policyRule` | absent, or v3-ActCode `OPTOUT` with deny, `OPTIN` with permit | (checked only) |
//! | `provision.type` | `deny` | objection |
//! | | `permit` | permission to view |
//! | `provision.purpose` | deny: exactly one v3-ActReason `TREAT` or `HOPERAT` | scope direct care / secondary use |
//! | | permit: absent or `TREAT` | (direct care) |
//! | `provision.action` | absent, or consentaction `access` | (checked only) |
//! | `provision.actor` | deny: none (an objection covers everyone) | |
//! | | permit: exactly one, role v3-ParticipationType `PRCP`, an Organization with an ODS code | `organisation_ods` |
//! | `provision.period` | deny: none | |
//! | | permit: `end` an instant with offset, later than now; `start`, if any, an instant not later than now | `until` = `end` |
//!
//! Rejected whenever present: `modifierExtension` (on the resource or the
//! provision), nested `provision.provision`, and the data restrictions
//! `securityLabel`, `class`, `code`, `dataPeriod` and `data`. Statuses
//! `draft` and `proposed` are not yet agreed, `rejected` was never in
//! force, and `entered-in-error` would need the log rewritten.
//!
//! Not read: `identifier`, `dateTime`, `organization` (the custodian),
//! `policy` (the text behind the rule; the provision carries the rule
//! itself), `source[x]`, `verification`, `text` and plain `extension`s.
//! A `Patient/123` reference with no identifier identifies no one here:
//! nothing is looked up on a FHIR server.
//!
//! An attorney is recognised only by an identifier in a namespace the
//! deployment names ([`ImportContext::attorney_id_system`]), whose values
//! are the ids powers of attorney were registered with; the service then
//! checks that the attorney holds a power for the patient.
//!
//! # Idempotency
//!
//! Each plan's request id is derived from the resource's canonical JSON
//! (keys sorted, no whitespace): `fhir-consent-<id>-<16 hex of SHA-256>`,
//! or `fhir-consent-<32 hex>` for a resource without a valid id. Importing
//! the same resource again sends the same id, which the service answers as
//! a replay; any change to the resource (a new status, a new version) is a
//! new request.

#[cfg(test)]
mod element_tests;
mod input;
mod mapping;
mod people;
mod reference;
mod rejection;
mod request_id;
mod resource;
#[cfg(test)]
mod tests;

use icr_proto::pb::ObjectionScope;
use jiff::Timestamp;

pub use input::read_consents;
pub use mapping::plan_consent_import;
pub use rejection::{Rejection, RejectionKind};
pub use request_id::consent_request_id;

/// What the mapping needs to know besides the resource.
#[derive(Debug, Clone)]
pub struct ImportContext {
    /// The current time: a permission must end after it and not start
    /// before it.
    pub now: Timestamp,
    /// The identifier system whose values are attorney ids, for a
    /// `RelatedPerson` performer; without it no attorney is recognised.
    pub attorney_id_system: Option<String>,
}

impl ImportContext {
    /// A context for an import made now.
    pub fn now(attorney_id_system: Option<String>) -> Self {
        Self {
            now: Timestamp::now(),
            attorney_id_system,
        }
    }
}

/// One `Consent` as the service request it becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportPlan {
    /// The resource's logical id, if it has one.
    pub resource_id: Option<String>,
    /// The request id derived from the resource ([`consent_request_id`]).
    pub request_id: String,
    /// The patient's NHS number, already checked (Modulus 11).
    pub nhs_number: String,
    /// Who made the decision.
    pub submitter: ConsentSubmitter,
    /// The change to make.
    pub change: ConsentChange,
}

/// Who made the consent decision (`Consent.performer`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsentSubmitter {
    /// The patient themself.
    Patient,
    /// An attorney, by the id their power of attorney was registered with.
    Attorney {
        /// The attorney id.
        attorney_id: String,
    },
}

/// The change one `Consent` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsentChange {
    /// An active deny: record an objection.
    RecordObjection {
        /// What the objection covers.
        scope: ObjectionScope,
    },
    /// An inactive deny: the objection of that scope has ended.
    WithdrawObjection {
        /// The scope of the objection withdrawn.
        scope: ObjectionScope,
    },
    /// An active permit: let one organisation view until a time.
    GrantPermissionToView {
        /// ODS code of the organisation.
        organisation_ods: String,
        /// When the permission lapses (`provision.period.end`).
        until: Timestamp,
    },
    /// An inactive permit: the organisation's permission has ended.
    RevokePermissionToView {
        /// ODS code of the organisation.
        organisation_ods: String,
    },
}

impl ConsentChange {
    /// The change's name, as the CLI prints it: the RPC in snake case.
    pub fn name(&self) -> &'static str {
        match self {
            Self::RecordObjection { .. } => "record_objection",
            Self::WithdrawObjection { .. } => "withdraw_objection",
            Self::GrantPermissionToView { .. } => "grant_permission_to_view",
            Self::RevokePermissionToView { .. } => "revoke_permission_to_view",
        }
    }
}

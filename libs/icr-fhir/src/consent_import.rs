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
//! | | permit: `end` an instant with offset, later than now; `start`, if any, an instant not later than now | `until` = `end`, to the nanosecond |
//!
//! `provision.period.end` becomes `until` as written, fraction of a second
//! included: the instant is sent and stored to the nanosecond. FHIR reads
//! `2030-03-31T23:59:59.999+00:00` as lasting to the end of that
//! millisecond, and the permission lapses at its start, a millisecond at
//! most sooner; that only ever narrows access, never widens it.
//!
//! Rejected whenever present: `implicitRules`, and `modifierExtension`
//! anywhere in the resource (on the resource, the provision, an actor, a
//! contained resource, a `policy` or `verification` entry, or any other
//! element: the whole JSON value is searched), nested
//! `provision.provision`, and the data restrictions `securityLabel`,
//! `class`, `code`, `dataPeriod` and `data`. Statuses `draft` and
//! `proposed` are not yet agreed, `rejected` was never in force, and
//! `entered-in-error` would need the log rewritten.
//!
//! Not read: `identifier`, `dateTime`, `organization` (the custodian),
//! `policy` (the text behind the rule; the provision carries the rule
//! itself), `source[x]`, `verification`, `text` and plain `extension`s.
//! A `Patient/123` reference with no identifier identifies no one here:
//! nothing is looked up on a FHIR server.
//!
//! # A file of Consents
//!
//! [`read_consents`] reads one resource, NDJSON, or a `Bundle` of type
//! `collection` or `searchset`; a `history` (every version, newest first),
//! `transaction`, `batch` or any other type is refused, and so is a Bundle
//! with `implicitRules` or a `modifierExtension` on itself or on an entry
//! (outside the entry's resource), at that path. [`plan_consent_file`]
//! then refuses every resource whose `id` another one in the file has (two
//! versions of one Consent), and every one that changes the same objection
//! (NHS number and scope) or permission (NHS number and organisation) as
//! another: withdrawals and revocations are keyed by those, not by the
//! Consent, so the file's order rather than the current Consent would
//! decide the outcome.
//!
//! An attorney is recognised only by an identifier in a namespace the
//! deployment names ([`ImportContext::attorney_id_system`]), whose values
//! are the ids powers of attorney were registered with; the service then
//! checks that the attorney holds a power for the patient.
//!
//! # Idempotency
//!
//! Each plan's request id is derived from the change and the resource's
//! canonical JSON (keys sorted, no whitespace):
//! `fhir-consent-<kind>-<id>-<16 hex of SHA-256>`, or
//! `fhir-consent-<kind>-<32 hex>` for a resource without a valid id, the
//! kind being `record`, `withdraw`, `grant` or `revoke`
//! ([`consent_request_id`]). Importing the same resource again sends the
//! same id, which the service answers as a replay; any change to the
//! resource (a new status, a new version) is a new request.
//!
//! A FHIR server sets `meta.versionId` and `meta.lastUpdated` on every
//! update, so each version of a Consent it exports hashes differently, and
//! a Consent that goes active → inactive → active is recorded, withdrawn
//! and recorded again. A resource without them that returns to earlier
//! content is the same request as before, and a replay of it establishes
//! nothing: whoever sends a plan must check, after a replay, that the
//! state it stands for is still current (the CLI does, and reports the
//! resource as superseded when it is not), because from the resource
//! alone a Consent in force again cannot be told from an old file
//! imported again.

#[cfg(test)]
mod element_tests;
mod file;
mod input;
mod mapping;
mod modifiers;
mod people;
mod reference;
mod rejection;
mod request_id;
mod resource;
#[cfg(test)]
mod tests;

use icr_proto::pb::ObjectionScope;
use jiff::Timestamp;

pub use file::plan_consent_file;
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
    /// The request id derived from the change and the resource
    /// ([`consent_request_id`]).
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

//! Why a `Consent` cannot be imported, named by the element at fault.

use std::fmt;

/// A `Consent` the import refuses, because recording it would say something
/// the resource does not (or leave out something it does).
///
/// Every rejection is final for that resource: correct the resource (or
/// record the decision by hand, with the patient) and import it again.
/// Nothing is ever imported in part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {detail} ({kind})")]
pub struct Rejection {
    /// FHIRPath-like location of the element at fault, such as
    /// `provision.actor[0].reference`; empty for the resource as a whole.
    pub path: String,
    /// What kind of problem it is.
    pub kind: RejectionKind,
    /// The problem in words, naming the values found.
    pub detail: String,
}

impl Rejection {
    /// A rejection of the element at `path`.
    pub(crate) fn new(
        path: impl Into<String>,
        kind: RejectionKind,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            path: path.into(),
            kind,
            detail: detail.into(),
        }
    }
}

/// The kinds of [`Rejection`], each with a stable snake_case name for
/// scripts ([`RejectionKind::name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RejectionKind {
    /// Not JSON, or not a `Consent` resource (wrong `resourceType`, or
    /// elements of the wrong JSON type).
    NotAConsent,
    /// An element the mapping needs is absent.
    Missing,
    /// A `modifierExtension`, anywhere in the resource: by definition it
    /// may change the meaning of the resource in a way this import cannot
    /// know.
    ModifierExtension,
    /// `implicitRules`: the resource was written under rules this import
    /// does not know, which may change what it means.
    ImplicitRules,
    /// A status other than `active` (record or grant) and `inactive`
    /// (withdraw or revoke).
    UnsupportedStatus,
    /// `scope` is not `patient-privacy`: not a record-sharing decision.
    NotPrivacyScope,
    /// A `category` that is not a general patient consent to sharing.
    UnsupportedCategory,
    /// `policyRule` is neither `OPTIN` nor `OPTOUT`, or contradicts the
    /// provision's `type`.
    UnsupportedPolicyRule,
    /// `provision.provision`: exceptions carved out of the rule, which a
    /// whole-record objection or permission cannot carry.
    NestedProvision,
    /// A restriction to some data (`securityLabel`, `class`, `code`,
    /// `dataPeriod`, `data`): the service's decisions cover whole scopes.
    UnrepresentableRestriction,
    /// `provision.type` is neither `permit` nor `deny`.
    UnsupportedProvisionType,
    /// A `provision.action` other than `access`.
    UnsupportedAction,
    /// A `provision.purpose` the service has no objection or permission for.
    UnsupportedPurpose,
    /// An actor that is not one ODS organisation receiving the record, or
    /// actors on an objection (which covers everyone).
    UnsupportedActor,
    /// A `provision.period` the service cannot hold: on an objection, open
    /// at the end, a date without a time, starting later, or already over.
    UnsupportedPeriod,
    /// The patient is not identified by an NHS number.
    NoNhsNumber,
    /// The NHS number is malformed or fails its Modulus 11 check.
    InvalidNhsNumber,
    /// The ODS code is malformed.
    InvalidOdsCode,
    /// The performer is neither the patient nor an attorney with an id in
    /// the configured attorney namespace, or there is not exactly one.
    UnsupportedPerformer,
    /// A `Bundle` whose `type` is not a set of current resources
    /// (`collection` or `searchset`).
    UnsupportedBundle,
    /// Another resource in the same file has the same `id`: two versions
    /// of one Consent, of which only the current one can be imported.
    RepeatedConsent,
    /// Another resource in the same file changes the same objection (NHS
    /// number and scope) or permission (NHS number and organisation): the
    /// outcome would depend on the order of the file, not on which Consent
    /// is current.
    ConflictingConsents,
}

impl RejectionKind {
    /// The stable name of the kind, as printed and in JSON output.
    pub fn name(self) -> &'static str {
        match self {
            Self::NotAConsent => "not_a_consent",
            Self::Missing => "missing",
            Self::ModifierExtension => "modifier_extension",
            Self::ImplicitRules => "implicit_rules",
            Self::UnsupportedStatus => "unsupported_status",
            Self::NotPrivacyScope => "not_privacy_scope",
            Self::UnsupportedCategory => "unsupported_category",
            Self::UnsupportedPolicyRule => "unsupported_policy_rule",
            Self::NestedProvision => "nested_provision",
            Self::UnrepresentableRestriction => "unrepresentable_restriction",
            Self::UnsupportedProvisionType => "unsupported_provision_type",
            Self::UnsupportedAction => "unsupported_action",
            Self::UnsupportedPurpose => "unsupported_purpose",
            Self::UnsupportedActor => "unsupported_actor",
            Self::UnsupportedPeriod => "unsupported_period",
            Self::NoNhsNumber => "no_nhs_number",
            Self::InvalidNhsNumber => "invalid_nhs_number",
            Self::InvalidOdsCode => "invalid_ods_code",
            Self::UnsupportedPerformer => "unsupported_performer",
            Self::UnsupportedBundle => "unsupported_bundle",
            Self::RepeatedConsent => "repeated_consent",
            Self::ConflictingConsents => "conflicting_consents",
        }
    }
}

impl fmt::Display for RejectionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

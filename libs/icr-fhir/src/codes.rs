//! The code systems and identifier namespaces the audit events use, each
//! with where it is defined.
//!
//! The event follows the IHE Basic Audit Log Patterns (BALP) profile for a
//! consent authorization decision, `IHE.BasicAudit.AuthZconsent`
//! (<https://profiles.ihe.net/ITI/BALP/StructureDefinition-IHE.BasicAudit.AuthZconsent.html>):
//! type DICOM 110113 "Security Alert", subtype BALP `AuthZ-Consent`, action
//! `E`, four agents (client application, user, user's organisation,
//! authorization server) and a patient and a consent entity. The same
//! pattern is used by HL7's FAST Consent Management `FASTConsentAuditEvent`.

use crate::model::{Coding, Identifier};

/// DICOM controlled terminology (PS3.16), as FHIR names it.
/// <https://hl7.org/fhir/R4/codesystem-dicom-dcim.html>
pub const DICOM: &str = "http://dicom.nema.org/resources/ontology/DCM";

/// BALP's authorization-decision subtypes.
/// <https://profiles.ihe.net/ITI/BALP/CodeSystem-AuthZsubType.html>
pub const BALP_AUTHZ_SUBTYPE: &str = "https://profiles.ihe.net/ITI/BALP/CodeSystem/AuthZsubType";

/// HL7 v3 ActReason: purposes of use.
/// <https://terminology.hl7.org/CodeSystem-v3-ActReason.html>
pub const V3_ACT_REASON: &str = "http://terminology.hl7.org/CodeSystem/v3-ActReason";

/// HL7 v3 ParticipationType (BALP's user agent: `IRCP`).
/// <https://terminology.hl7.org/CodeSystem-v3-ParticipationType.html>
pub const V3_PARTICIPATION_TYPE: &str =
    "http://terminology.hl7.org/CodeSystem/v3-ParticipationType";

/// HL7 v3 RoleClass (BALP's user-organisation agent: `PROV`).
/// <https://terminology.hl7.org/CodeSystem-v3-RoleClass.html>
pub const V3_ROLE_CLASS: &str = "http://terminology.hl7.org/CodeSystem/v3-RoleClass";

/// HL7 security role types (BALP's authorizer agent: `authserver`).
/// <https://terminology.hl7.org/CodeSystem-extra-security-role-type.html>
pub const SECURITY_ROLE_TYPE: &str =
    "http://terminology.hl7.org/CodeSystem/extra-security-role-type";

/// Audit event source types; bound to `AuditEvent.source.type` in R4.
/// <https://hl7.org/fhir/R4/valueset-audit-source-type.html>
pub const SECURITY_SOURCE_TYPE: &str = "http://terminology.hl7.org/CodeSystem/security-source-type";

/// Audit event entity types; bound to `AuditEvent.entity.type` in R4.
/// <https://hl7.org/fhir/R4/valueset-audit-entity-type.html>
pub const AUDIT_ENTITY_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-entity-type";

/// Audit event entity roles; bound to `AuditEvent.entity.role` in R4.
/// <https://hl7.org/fhir/R4/valueset-object-role.html>
pub const OBJECT_ROLE: &str = "http://terminology.hl7.org/CodeSystem/object-role";

/// FHIR resource types as codes (BALP's consent entity type: `Consent`).
/// <https://hl7.org/fhir/R4/codesystem-resource-types.html>
pub const RESOURCE_TYPES: &str = "http://hl7.org/fhir/resource-types";

/// NHS number (UK Core identifier namespace).
/// <https://simplifier.net/guide/UKNamingSystems/Home/Identifiersystems/IndexofIdentifierNamingsystems>
pub const NHS_NUMBER: &str = "https://fhir.nhs.uk/Id/nhs-number";

/// ODS organisation code (UK Core identifier namespace, same index).
pub const ODS_ORGANISATION_CODE: &str = "https://fhir.nhs.uk/Id/ods-organization-code";

/// SDS user id (the NHS smartcard user id), for deployments whose calling
/// systems all identify users by it; see [`crate::AuditSource::user_id_system`].
pub const SDS_USER_ID: &str = "https://fhir.nhs.uk/Id/sds-user-id";

/// National RBAC job role codes such as `R8000` ("Clinical Practitioner
/// Access Role"): HL7 UK Core's `UKCore-SDSJobRoleName`, whose codes are the
/// bare `Rnnnn` codes this service receives, and which NHS England's
/// Electronic Prescription Service uses today. NHS England's API guidance
/// names `https://fhir.nhs.uk/CodeSystem/England-SDS-JobRoleCode` as its
/// successor; change this constant when the audit's consumers expect it.
pub const SDS_JOB_ROLE_NAME: &str = "https://fhir.hl7.org.uk/CodeSystem/UKCore-SDSJobRoleName";

/// `AuditEvent.action` "E", execute: BALP's fixed action for a decision.
/// <https://hl7.org/fhir/R4/valueset-audit-event-action.html>
pub const ACTION_EXECUTE: &str = "E";

/// `AuditEvent.outcome` codes (R4 `audit-event-outcome`, a plain code).
/// <https://hl7.org/fhir/R4/valueset-audit-event-outcome.html>
pub mod outcome {
    /// Success: the access was allowed.
    pub const SUCCESS: &str = "0";
    /// Minor failure, "often equivalent to an HTTP 400 response": a deny
    /// the policy decided, the way a 403 is a correct refusal.
    pub const MINOR_FAILURE: &str = "4";
    /// Serious failure, "often equivalent to an HTTP 500 response": a deny
    /// because the decision could not be evaluated at all.
    pub const SERIOUS_FAILURE: &str = "8";
}

pub(crate) fn coding(system: &str, code: &str, display: &str) -> Coding {
    Coding {
        system: Some(system.to_owned()),
        code: code.to_owned(),
        display: Some(display.to_owned()),
    }
}

/// BALP `AuthZconsent` fixes `AuditEvent.type` to DICOM 110113.
pub(crate) fn security_alert() -> Coding {
    coding(DICOM, "110113", "Security Alert")
}

/// BALP `AuthZconsent` binds the subtype to its `AuthZsubTypeVS` (required
/// binding), so break glass cannot be a subtype; it is a purpose of use.
pub(crate) fn authz_consent() -> Coding {
    coding(
        BALP_AUTHZ_SUBTYPE,
        "AuthZ-Consent",
        "Authorization Decision using Roles and Consent",
    )
}

/// Direct care.
pub(crate) fn treatment() -> Coding {
    coding(V3_ACT_REASON, "TREAT", "treatment")
}

/// Secondary use such as population health management: planning and
/// managing services, not care of this patient. Not `POPHLTH`, which
/// ActReason places under `TREAT` (care delivered to a population).
pub(crate) fn healthcare_operations() -> Coding {
    coding(V3_ACT_REASON, "HOPERAT", "healthcare operations")
}

/// Break glass: ActReason `BTG`, a specialisation of emergency treatment.
pub(crate) fn break_the_glass() -> Coding {
    coding(V3_ACT_REASON, "BTG", "break the glass")
}

/// BALP's client agent type: the calling system.
pub(crate) fn application() -> Coding {
    coding(DICOM, "110150", "Application")
}

/// BALP's user agent type.
pub(crate) fn information_recipient() -> Coding {
    coding(V3_PARTICIPATION_TYPE, "IRCP", "information recipient")
}

/// BALP's user-organisation agent type.
pub(crate) fn healthcare_provider() -> Coding {
    coding(V3_ROLE_CLASS, "PROV", "healthcare provider")
}

/// BALP's authorizer agent type: this consent service.
pub(crate) fn authorization_server() -> Coding {
    coding(SECURITY_ROLE_TYPE, "authserver", "authorization server")
}

/// Source type of this consent service, as in BALP's examples.
pub(crate) fn security_server() -> Coding {
    coding(SECURITY_SOURCE_TYPE, "6", "Security Server")
}

/// BALP's patient entity type.
pub(crate) fn person() -> Coding {
    coding(AUDIT_ENTITY_TYPE, "1", "Person")
}

/// BALP's patient entity role.
pub(crate) fn patient_role() -> Coding {
    coding(OBJECT_ROLE, "1", "Patient")
}

/// BALP's consent entity type.
pub(crate) fn consent() -> Coding {
    coding(RESOURCE_TYPES, "Consent", "Consent")
}

/// A national RBAC job role code; its display is not known here.
pub(crate) fn job_role(code: &str) -> Coding {
    Coding {
        system: Some(SDS_JOB_ROLE_NAME.to_owned()),
        code: code.to_owned(),
        display: None,
    }
}

pub(crate) fn ods_code(code: &str) -> Identifier {
    Identifier::new(ODS_ORGANISATION_CODE, code)
}

pub(crate) fn nhs_number(value: &str) -> Identifier {
    Identifier::new(NHS_NUMBER, value)
}

/// Consent scopes; `patient-privacy` is the scope of a sharing decision.
/// <https://terminology.hl7.org/CodeSystem-consentscope.html>
pub const CONSENT_SCOPE: &str = "http://terminology.hl7.org/CodeSystem/consentscope";

/// LOINC; `59284-0` "Patient Consent" is R4's general consent category.
/// <https://loinc.org/59284-0>
pub const LOINC: &str = "http://loinc.org";

/// HL7 v3 ActCode: consent categories (`INFA`) and policy rules (`OPTIN`,
/// `OPTOUT`).
/// <https://terminology.hl7.org/CodeSystem-v3-ActCode.html>
pub const V3_ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";

/// Consent actions (`access`, `collect`, `use`, `disclose`, `correct`).
/// <https://terminology.hl7.org/CodeSystem-consentaction.html>
pub const CONSENT_ACTION: &str = "http://terminology.hl7.org/CodeSystem/consentaction";

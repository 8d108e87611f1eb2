//! Who a `Consent` is about, who made it, and who it lets see the record:
//! the patient by NHS number, the performer as the patient or an attorney,
//! and the recipient organisation by ODS code.

use icr_events::NhsNumber;
use icr_events::codes::{identifier, ods_code};

use super::reference::{Target, resolve};
use super::rejection::{Rejection, RejectionKind as Kind};
use super::resource::{Actor, Consent, ContainedResource};
use super::{ConsentSubmitter, ImportContext};
use crate::codes::{NHS_NUMBER, ODS_ORGANISATION_CODE, V3_PARTICIPATION_TYPE};

/// The longest attorney id the service accepts.
const MAX_ATTORNEY_ID: usize = 128;

/// The patient's NHS number, checked (Modulus 11).
pub(crate) fn patient(consent: &Consent) -> Result<String, Rejection> {
    let reference = consent
        .patient
        .as_ref()
        .ok_or_else(|| Rejection::new("patient", Kind::Missing, "required"))?;
    let target = resolve(reference, &consent.contained, "patient")?;
    if !target.may_be("Patient") {
        return Err(Rejection::new(
            "patient",
            Kind::NotAConsent,
            format!(
                "refers to a {}, not a Patient",
                target.resource_type.as_deref().unwrap_or_default()
            ),
        ));
    }
    let value = target.identifier(NHS_NUMBER, "patient")?.ok_or_else(|| {
        Rejection::new(
            "patient",
            Kind::NoNhsNumber,
            format!(
                "`{}` carries no {NHS_NUMBER} identifier (give it in a contained Patient, \
                 as Patient?identifier={NHS_NUMBER}|NNNNNNNNNN, or as reference.identifier)",
                target.literal.as_deref().unwrap_or("the reference")
            ),
        )
    })?;
    value
        .parse::<NhsNumber>()
        .map(|number| number.as_string())
        .map_err(|error| {
            Rejection::new(
                "patient",
                Kind::InvalidNhsNumber,
                format!("`{value}` is not a valid NHS number: {error}"),
            )
        })
}

/// Who made the decision: the patient of the Consent, or an attorney.
pub(crate) fn performer(
    consent: &Consent,
    nhs_number: &str,
    context: &ImportContext,
) -> Result<ConsentSubmitter, Rejection> {
    let reference = match consent.performer.as_slice() {
        [] => {
            return Err(Rejection::new(
                "performer",
                Kind::Missing,
                "who made the decision: the patient, or their attorney",
            ));
        }
        [one] => one,
        [_, ..] => {
            return Err(Rejection::new(
                "performer[1]",
                Kind::UnsupportedPerformer,
                "one performer only: the patient, or one attorney acting for them",
            ));
        }
    };
    let target = resolve(reference, &consent.contained, "performer[0]")?;
    match target.resource_type.as_deref() {
        Some("RelatedPerson") => attorney(&target, context),
        Some("Patient") | None if is_the_patient(&target, consent, nhs_number)? => {
            Ok(ConsentSubmitter::Patient)
        }
        Some("Patient") | None => Err(Rejection::new(
            "performer[0]",
            Kind::UnsupportedPerformer,
            "is not shown to be the patient of this Consent (the same reference, or the same NHS number)",
        )),
        Some(other) => Err(Rejection::new(
            "performer[0]",
            Kind::UnsupportedPerformer,
            format!("is a {other}: only the patient or their attorney makes this decision"),
        )),
    }
}

/// Whether the performer is the Consent's patient: the same literal
/// reference, or the same NHS number.
fn is_the_patient(target: &Target, consent: &Consent, nhs_number: &str) -> Result<bool, Rejection> {
    let patient_literal = consent
        .patient
        .as_ref()
        .and_then(|p| p.reference.as_deref());
    if target.literal.is_some() && target.literal.as_deref() == patient_literal {
        return Ok(true);
    }
    let number = target.identifier(NHS_NUMBER, "performer[0]")?;
    Ok(number == Some(nhs_number))
}

/// An attorney: a RelatedPerson with an identifier in the deployment's
/// attorney id system.
fn attorney(target: &Target, context: &ImportContext) -> Result<ConsentSubmitter, Rejection> {
    let Some(system) = context.attorney_id_system.as_deref() else {
        return Err(Rejection::new(
            "performer[0]",
            Kind::UnsupportedPerformer,
            "a RelatedPerson is recognised as an attorney only by an identifier in the attorney id system, and none is configured",
        ));
    };
    let attorney_id = target.identifier(system, "performer[0]")?.ok_or_else(|| {
        Rejection::new(
            "performer[0]",
            Kind::UnsupportedPerformer,
            format!(
                "the RelatedPerson carries no {system} identifier, so it is not a known attorney"
            ),
        )
    })?;
    identifier(
        "performer[0].identifier.value",
        attorney_id,
        MAX_ATTORNEY_ID,
    )
    .map_err(|error| Rejection::new(error.field, Kind::UnsupportedPerformer, error.message))?;
    Ok(ConsentSubmitter::Attorney {
        attorney_id: attorney_id.to_owned(),
    })
}

/// The ODS code of the one organisation a permission lets see the record.
pub(crate) fn recipient(
    actors: &[Actor],
    contained: &[ContainedResource],
) -> Result<String, Rejection> {
    let actor = match actors {
        [] => {
            return Err(Rejection::new(
                "provision.actor",
                Kind::Missing,
                "a permission to view must name the organisation it is given to",
            ));
        }
        [one] => one,
        [_, ..] => {
            return Err(Rejection::new(
                "provision.actor[1]",
                Kind::UnsupportedActor,
                "one organisation per permission: send one Consent for each",
            ));
        }
    };
    let role = actor
        .role
        .as_ref()
        .ok_or_else(|| Rejection::new("provision.actor[0].role", Kind::Missing, "required"))?;
    if !role.has(V3_PARTICIPATION_TYPE, "PRCP") {
        let found: Vec<String> = role.coding.iter().map(|c| c.token()).collect();
        return Err(Rejection::new(
            "provision.actor[0].role",
            Kind::UnsupportedActor,
            format!(
                "{found:?}: permission to view is given to the recipient (v3-ParticipationType PRCP)"
            ),
        ));
    }
    let path = "provision.actor[0].reference";
    let reference = actor
        .reference
        .as_ref()
        .ok_or_else(|| Rejection::new(path, Kind::Missing, "required"))?;
    let target = resolve(reference, contained, path)?;
    if !target.may_be("Organization") {
        return Err(Rejection::new(
            path,
            Kind::UnsupportedActor,
            format!(
                "is a {}: permission to view is given to an organisation",
                target.resource_type.as_deref().unwrap_or_default()
            ),
        ));
    }
    let code = target
        .identifier(ODS_ORGANISATION_CODE, path)?
        .ok_or_else(|| {
            Rejection::new(
                path,
                Kind::UnsupportedActor,
                format!(
                    "`{}` carries no {ODS_ORGANISATION_CODE} identifier",
                    target.literal.as_deref().unwrap_or("the reference")
                ),
            )
        })?;
    ods_code(path, code).map_err(|error| {
        Rejection::new(
            path,
            Kind::InvalidOdsCode,
            format!("`{code}`: {}", error.message),
        )
    })
}

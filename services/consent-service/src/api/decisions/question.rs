//! The question every decision answers: validated from the request, and
//! refused when a record viewer asks for an organisation it does not speak
//! for.

use icr_events::FieldError;
use icr_events::codes::{identifier, purpose, role_code};
use icr_proto::pb::{AccessMode, Purpose, Requester};
use tonic::metadata::MetadataMap;

use crate::calling_system::calling_system;
use crate::status::{ServiceError, ServiceResult};
use crate::validate;
use crate::validate::limits::MAX_REASON;

/// A validated access question about one patient, for one or more sections.
pub(crate) struct Question<'a> {
    pub(crate) nhs_number: icr_events::NhsNumber,
    pub(crate) requester: &'a Requester,
    pub(crate) purpose: Purpose,
    pub(crate) source_organisation_ods: &'a str,
    pub(crate) access_mode: AccessMode,
    /// The reason given; empty when none was, or it was blank.
    pub(crate) access_reason: &'a str,
    pub(crate) min_log_position: u64,
    pub(crate) calling_system: String,
}

/// The fields AuthorizeRequest and AuthorizeBatchRequest share. The NHS
/// number and ODS codes are rewritten to their one form as they are
/// validated, so the decision and its record carry that form.
pub(crate) struct Asked<'a> {
    pub(crate) nhs_number: &'a mut String,
    pub(crate) requester: Option<&'a mut Requester>,
    pub(crate) purpose: i32,
    pub(crate) source_organisation_ods: &'a mut String,
    pub(crate) access_mode: i32,
    pub(crate) access_reason: &'a str,
    pub(crate) min_log_position: u64,
    pub(crate) metadata: &'a MetadataMap,
}

/// The [`Asked`] of `$req`, an `AuthorizeRequest` or an
/// `AuthorizeBatchRequest` (which share these fields), with `$metadata`.
macro_rules! asked {
    ($req:ident, $metadata:expr) => {
        $crate::api::decisions::Asked {
            nhs_number: &mut $req.nhs_number,
            requester: $req.requester.as_mut(),
            purpose: $req.purpose,
            source_organisation_ods: &mut $req.source_organisation_ods,
            access_mode: $req.access_mode,
            access_reason: &$req.access_reason,
            min_log_position: $req.min_log_position,
            metadata: $metadata,
        }
    };
}
pub(crate) use asked;

/// Validates the question, naming fields as in the request.
pub(crate) fn question(asked: Asked<'_>) -> ServiceResult<Question<'_>> {
    let calling_system = calling_system(asked.metadata)?;
    let nhs_number = validate::canonical_nhs_number("nhs_number", asked.nhs_number)?;
    let requester = validate::present("requester", asked.requester)?;
    validate::id("requester.user_id", &requester.user_id)?;
    role_code("requester.role_code", &requester.role_code)?;
    validate::ods(
        "requester.organisation_ods",
        &mut requester.organisation_ods,
    )?;
    let requester: &Requester = requester;
    let purpose = purpose("purpose", asked.purpose)?;
    validate::optional_ods("source_organisation_ods", asked.source_organisation_ods)?;
    // Unspecified is normal access, the most restrictive mode.
    let access_mode = match AccessMode::try_from(asked.access_mode) {
        Ok(AccessMode::Unspecified) => AccessMode::Normal,
        Ok(mode) => mode,
        Err(_) => {
            return Err(FieldError::new(
                "access_mode",
                format!("unknown value {}", asked.access_mode),
            )
            .into());
        }
    };
    // A blank reason is no reason: the decision, not validation, refuses
    // exceptional access without one, so the refusal is recorded.
    let access_reason = if asked.access_reason.trim().is_empty() {
        ""
    } else {
        identifier("access_reason", asked.access_reason, MAX_REASON)?;
        asked.access_reason
    };
    Ok(Question {
        nhs_number,
        requester,
        purpose,
        source_organisation_ods: asked.source_organisation_ods,
        access_mode,
        access_reason,
        min_log_position: asked.min_log_position,
        calling_system,
    })
}

/// Refuses a record viewer asking for an organisation its certificate does
/// not cover (`PermissionDenied`), before anything is decided or recorded.
pub(crate) fn speaks_for(
    extensions: &tonic::Extensions,
    requester: Option<&Requester>,
) -> ServiceResult<()> {
    let caller = crate::access::caller(extensions)?;
    // Without a requester nothing is decided: validation names the field.
    let Some(requester) = requester else {
        return Ok(());
    };
    let ods = requester.organisation_ods.as_str();
    if caller.speaks_for(ods) {
        Ok(())
    } else {
        Err(ServiceError::PermissionDenied(format!(
            "{} may not ask on behalf of organisation {ods:?} (requester.organisation_ods)",
            caller.identity
        )))
    }
}

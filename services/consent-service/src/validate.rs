//! Request validation shared by the handlers. Every error names the field by
//! its path in the request.

use icr_events::codes::{identifier, ods_code};
use icr_events::{FieldError, NhsNumber};
use icr_proto::pb::{Submitter, submitter::Who};

/// Longest user, attorney, relationship or request id accepted.
pub(crate) const MAX_ID: usize = 128;
/// Longest free-text name accepted.
pub(crate) const MAX_NAME: usize = 256;

/// A valid NHS number (ten digits, Modulus 11 check digit).
pub(crate) fn nhs_number(field: &str, value: &str) -> Result<NhsNumber, FieldError> {
    value
        .parse()
        .map_err(|e| FieldError::new(field, format!("not a valid NHS number: {e}")))
}

/// A required id.
pub(crate) fn id(field: &str, value: &str) -> Result<(), FieldError> {
    identifier(field, value, MAX_ID)
}

/// A required name.
pub(crate) fn name(field: &str, value: &str) -> Result<(), FieldError> {
    identifier(field, value, MAX_NAME)
}

/// An optional ODS code: empty, or valid.
pub(crate) fn optional_ods(field: &str, value: &str) -> Result<(), FieldError> {
    if value.is_empty() {
        Ok(())
    } else {
        ods_code(field, value)
    }
}

/// The attorney id of a consent submitter: empty when the patient acts.
pub(crate) fn submitter(field: &str, value: Option<&Submitter>) -> Result<String, FieldError> {
    match value.and_then(|s| s.who.as_ref()) {
        Some(Who::Patient(_)) => Ok(String::new()),
        Some(Who::AttorneyId(attorney)) => {
            id(&format!("{field}.attorney_id"), attorney)?;
            Ok(attorney.clone())
        }
        None => Err(FieldError::new(
            field,
            "must say whether the patient or an attorney submits",
        )),
    }
}

/// A required message field.
pub(crate) fn present<'a, T>(field: &str, value: Option<&'a T>) -> Result<&'a T, FieldError> {
    value.ok_or_else(|| FieldError::new(field, "must be set"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn submitter_must_be_said() {
        assert_eq!(submitter("submitter", None).unwrap_err().field, "submitter");
        let patient = Submitter {
            who: Some(Who::Patient(true)),
        };
        assert_eq!(submitter("submitter", Some(&patient)), Ok(String::new()));
        let blank = Submitter {
            who: Some(Who::AttorneyId(" ".into())),
        };
        assert_eq!(
            submitter("submitter", Some(&blank)).unwrap_err().field,
            "submitter.attorney_id"
        );
    }

    #[test]
    fn nhs_number_errors_name_the_field() {
        let e = nhs_number("nhs_number", "9434765918").unwrap_err();
        assert_eq!(e.field, "nhs_number");
        assert!(e.message.contains("Modulus 11"));
    }
}

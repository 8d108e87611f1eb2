//! Request validation shared by the handlers. Every error names the field by
//! its path in the request. The bounds are in [`limits`]; a policy event is
//! checked by `icr-packs` (`validate_policy_event`), with its own bounds.

pub(crate) mod limits;
#[cfg(test)]
mod props;
#[cfg(test)]
mod props_audit;

use icr_events::codes::{identifier, ods_code};
use icr_events::{EVENT_TYPES, FieldError, NhsNumber};
use icr_proto::pb::{Submitter, submitter::Who};
use limits::{MAX_ECHO, MAX_EVENT_TYPE_FILTERS, MAX_ID};

/// A valid NHS number (ten digits, Modulus 11 check digit), written as
/// ten digits or in the 3-3-4 groups NHS letters print (`943 476 5919`).
pub(crate) fn nhs_number(field: &str, value: &str) -> Result<NhsNumber, FieldError> {
    value
        .parse()
        .map_err(|e| FieldError::new(field, format!("not a valid NHS number: {e}")))
}

/// A valid NHS number as [`nhs_number`] reads it, with `value` rewritten
/// to its ten digits: what is recorded, fingerprinted and answered is the
/// one form, however the caller wrote it.
pub(crate) fn canonical_nhs_number(
    field: &str,
    value: &mut String,
) -> Result<NhsNumber, FieldError> {
    let number = nhs_number(field, value)?;
    if value.len() != 10 {
        *value = number.to_string();
    }
    Ok(number)
}

/// A valid ODS code, with `value` rewritten to its canonical upper case
/// (`rkb` is RKB).
pub(crate) fn ods(field: &str, value: &mut String) -> Result<(), FieldError> {
    *value = ods_code(field, value)?;
    Ok(())
}

/// A required id.
pub(crate) fn id(field: &str, value: &str) -> Result<(), FieldError> {
    identifier(field, value, MAX_ID)
}

/// An optional ODS code: empty, or valid (and rewritten as [`ods`] does).
pub(crate) fn optional_ods(field: &str, value: &mut String) -> Result<(), FieldError> {
    if value.is_empty() {
        Ok(())
    } else {
        ods(field, value)
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

/// A repeated field of at most `max` entries, checked before its entries.
pub(crate) use icr_events::codes::at_most;

/// A replay's event type filter: known names, at most one of each.
pub(crate) fn event_types(field: &str, names: &[String]) -> Result<(), FieldError> {
    at_most(field, names.len(), MAX_EVENT_TYPE_FILTERS)?;
    for (i, name) in names.iter().enumerate() {
        if !EVENT_TYPES.contains(&name.as_str()) {
            let message = format!(
                "unknown event type {}; known: {}",
                echo(name),
                EVENT_TYPES.join(", ")
            );
            return Err(FieldError::new(format!("{field}[{i}]"), message));
        }
        if names[..i].contains(name) {
            let message = format!("repeats event type {}; list each once", echo(name));
            return Err(FieldError::new(format!("{field}[{i}]"), message));
        }
    }
    Ok(())
}

/// A refused value as an error message may repeat it: quoted and escaped,
/// and cut to [`MAX_ECHO`] bytes (at a character boundary) if longer.
pub(crate) fn echo(value: &str) -> String {
    if value.len() <= MAX_ECHO {
        return format!("{value:?}");
    }
    let mut end = MAX_ECHO;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    format!("{:?}… ({} bytes)", &value[..end], value.len())
}

/// A required message field.
pub(crate) fn present<T>(field: &str, value: Option<T>) -> Result<T, FieldError> {
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
    fn long_lists_and_unknown_names_are_refused_without_repeating_much() {
        assert!(at_most("sections", 3, 3).is_ok());
        assert_eq!(at_most("sections", 4, 3).unwrap_err().field, "sections");
        let all: Vec<String> = EVENT_TYPES.iter().map(|&t| t.to_owned()).collect();
        assert!(event_types("event_types", &all).is_ok());
        let mut one_more = all.clone();
        one_more.push(all[0].clone());
        let e = event_types("event_types", &one_more).unwrap_err();
        assert_eq!(e.field, "event_types");
        let repeated = ["PatientRegistered".into(), "PatientRegistered".into()];
        let e = event_types("event_types", &repeated).unwrap_err();
        assert_eq!(e.field, "event_types[1]");
        assert!(e.message.starts_with("repeats event type"), "{}", e.message);
        let huge = "é".repeat(1_000_000);
        let e = event_types("event_types", &["PatientRegistered".into(), huge]).unwrap_err();
        assert_eq!(e.field, "event_types[1]");
        assert!(e.message.len() < 600, "{} bytes", e.message.len());
        assert!(e.message.contains("2000000 bytes"));
        assert_eq!(echo("a\nb"), "\"a\\nb\"");
    }

    #[test]
    fn nhs_numbers_and_ods_codes_are_rewritten_to_their_one_form() {
        let mut nhs = "943 476 5919".to_owned();
        assert!(canonical_nhs_number("nhs_number", &mut nhs).is_ok());
        assert_eq!(nhs, "9434765919");
        let mut refused = "9434 765 919".to_owned();
        let e = canonical_nhs_number("nhs_number", &mut refused).unwrap_err();
        assert_eq!(e.field, "nhs_number");
        assert_eq!(refused, "9434 765 919", "a refused value is left as it was");
        let mut ods_code = "rkb".to_owned();
        assert!(ods("organisation_ods", &mut ods_code).is_ok());
        assert_eq!(ods_code, "RKB");
        let mut empty = String::new();
        assert!(optional_ods("source_organisation_ods", &mut empty).is_ok());
        assert_eq!(empty, "");
    }

    #[test]
    fn nhs_number_errors_name_the_field() {
        let e = nhs_number("nhs_number", "9434765918").unwrap_err();
        assert_eq!(e.field, "nhs_number");
        assert!(e.message.contains("Modulus 11"));
    }
}

//! Validated identifiers and the closed vocabularies (sections, purposes,
//! scopes, kinds) shared by every crate.

use icr_proto::pb::{
    AccessReportMark, CareRelationshipKind, ConsentModel, DecisionRecord, ObjectionScope,
    PowerOfAttorneyKind, Purpose, RecordSection,
};
use jiff::civil::Date;

/// A field that failed validation, named by its path in the request
/// (e.g. `requester.role_code`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// Path of the offending field.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// A new error for `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Checks an identifier made of upper-case letters and digits (ODS codes,
/// RBAC role codes, region codes), `min..=max` characters long.
fn upper_alnum(field: &str, value: &str, min: usize, max: usize) -> Result<(), FieldError> {
    let len_ok = (min..=max).contains(&value.len());
    if len_ok
        && value
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        Ok(())
    } else {
        Err(FieldError::new(
            field,
            format!("must be {min} to {max} upper-case letters or digits"),
        ))
    }
}

/// An ODS organisation code (3 to 10 letters or digits) in its canonical,
/// upper-case form: ODS codes are case-insensitive, so `rkb` is RKB. Any
/// other character (a space, a hyphen) is refused, not dropped.
pub fn ods_code(field: &str, value: &str) -> Result<String, FieldError> {
    let code = value.to_ascii_uppercase();
    upper_alnum(field, &code, 3, 10).map_err(|_| {
        FieldError::new(
            field,
            "must be 3 to 10 letters or digits (an ODS code such as RKB)",
        )
    })?;
    Ok(code)
}

/// Validates a national RBAC job-role code (e.g. `R8000`).
pub fn role_code(field: &str, value: &str) -> Result<(), FieldError> {
    upper_alnum(field, value, 2, 12)
}

/// Validates a region code (the ICB's ODS code, e.g. `QWU`).
pub fn region_code(field: &str, value: &str) -> Result<(), FieldError> {
    upper_alnum(field, value, 2, 10)
}

/// Validates a free-text identifier (user ids, attorney ids, request ids):
/// non-empty, at most `max` bytes, no control characters.
pub fn identifier(field: &str, value: &str, max: usize) -> Result<(), FieldError> {
    if value.trim().is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if value.len() > max {
        return Err(FieldError::new(
            field,
            format!("must be at most {max} bytes"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// A repeated field of at most `max` entries. Checked before the entries
/// are, so a long list costs nothing.
pub fn at_most(field: &str, len: usize, max: usize) -> Result<(), FieldError> {
    if len > max {
        return Err(FieldError::new(
            field,
            format!("must list at most {max} values, not {len}"),
        ));
    }
    Ok(())
}

/// Parses an ISO 8601 calendar date (`YYYY-MM-DD`).
pub fn iso_date(field: &str, value: &str) -> Result<Date, FieldError> {
    let well_formed =
        value.len() == 10 && value.as_bytes()[4] == b'-' && value.as_bytes()[7] == b'-';
    let parsed = well_formed.then(|| value.parse::<Date>().ok()).flatten();
    parsed.ok_or_else(|| FieldError::new(field, "must be a date written YYYY-MM-DD"))
}

/// Checks that an enum number is a known, specified value of `E`.
fn known<E: TryFrom<i32>>(field: &str, value: i32, unspecified: i32) -> Result<E, FieldError> {
    if value == unspecified {
        return Err(FieldError::new(field, "must be specified"));
    }
    E::try_from(value).map_err(|_| FieldError::new(field, format!("unknown value {value}")))
}

/// One checker per enum of the API that a request or an event must give a
/// known, specified value of: its name, what it checks, and the enum.
macro_rules! known_values {
    ($($(#[$doc:meta])* $name:ident: $enum:ident;)*) => {$(
        $(#[$doc])*
        pub fn $name(field: &str, value: i32) -> Result<$enum, FieldError> {
            known(field, value, $enum::Unspecified as i32)
        }
    )*};
}

known_values! {
    /// A known record section.
    section: RecordSection;
    /// A known purpose of use.
    purpose: Purpose;
    /// A known objection scope.
    objection_scope: ObjectionScope;
    /// A known kind of power of attorney.
    power_of_attorney_kind: PowerOfAttorneyKind;
    /// A known kind of care relationship.
    care_relationship_kind: CareRelationshipKind;
    /// A known consent model.
    consent_model: ConsentModel;
}

/// The short name policy files use for a proto enum value: its proto name
/// without the type prefix, lower-cased (`RECORD_SECTION_MEDICATIONS` →
/// `medications`).
pub fn short_name(proto_name: &str, prefix: &str) -> String {
    proto_name
        .strip_prefix(prefix)
        .unwrap_or(proto_name)
        .to_ascii_lowercase()
}

/// Every record section this build knows, in number order. The generated
/// `RecordSection` is the one list of sections: names, parsing, the policy
/// README's list and the load generator's batches all follow from it.
/// `icr-proto`'s tests check that its numbers run from 1 without a gap, so
/// this scan stops at the last section and misses none.
pub fn sections() -> impl Iterator<Item = RecordSection> + Clone {
    (1..).map_while(|number| RecordSection::try_from(number).ok())
}

/// Policy-file name of a section.
pub fn section_name(section: RecordSection) -> String {
    short_name(section.as_str_name(), "RECORD_SECTION_")
}

/// Policy-file name of a purpose.
pub fn purpose_name(purpose: Purpose) -> String {
    short_name(purpose.as_str_name(), "PURPOSE_")
}

/// Parses a section from its policy-file name.
pub fn section_from_name(name: &str) -> Option<RecordSection> {
    RecordSection::from_str_name(&format!("RECORD_SECTION_{}", name.to_ascii_uppercase()))
        .filter(|s| *s != RecordSection::Unspecified)
}

/// Parses a purpose from its policy-file name.
pub fn purpose_from_name(name: &str) -> Option<Purpose> {
    Purpose::from_str_name(&format!("PURPOSE_{}", name.to_ascii_uppercase()))
        .filter(|p| *p != Purpose::Unspecified)
}

/// Parses a consent model from its policy-file name.
pub fn consent_model_from_name(name: &str) -> Option<ConsentModel> {
    ConsentModel::from_str_name(&format!("CONSENT_MODEL_{}", name.to_ascii_uppercase()))
        .filter(|m| *m != ConsentModel::Unspecified)
}

/// How a patient's access report marks a recorded decision: an allow
/// released the section, so the requester has seen it (a view); a deny
/// showed nothing (a refused attempt).
pub fn access_report_mark(record: &DecisionRecord) -> AccessReportMark {
    if record.allowed {
        AccessReportMark::Viewed
    } else {
        AccessReportMark::Refused
    }
}

#[cfg(test)]
#[path = "codes_readme_tests.rs"]
mod readme_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_names_round_trip() {
        assert_eq!(section_name(RecordSection::MentalHealth), "mental_health");
        assert_eq!(
            section_from_name("mental_health"),
            Some(RecordSection::MentalHealth)
        );
        assert_eq!(section_from_name("unspecified"), None);
        assert_eq!(section_from_name("everything"), None);
    }

    #[test]
    fn every_section_has_a_name_that_parses_back() {
        let all: Vec<RecordSection> = sections().collect();
        assert_eq!(all.first(), Some(&RecordSection::Demographics));
        assert!(!all.contains(&RecordSection::Unspecified));
        for section in all {
            assert_eq!(section_from_name(&section_name(section)), Some(section));
        }
    }

    #[test]
    fn enums_reject_unspecified_and_unknown_numbers() {
        assert_eq!(section("section", 0).unwrap_err().field, "section");
        assert!(section("section", 999).unwrap_err().message.contains("999"));
        assert_eq!(purpose("purpose", 1), Ok(Purpose::DirectCare));
    }

    #[test]
    fn codes_and_dates_are_checked() {
        assert_eq!(ods_code("ods", "RKB").as_deref(), Ok("RKB"));
        assert_eq!(ods_code("ods", "rkb").as_deref(), Ok("RKB"));
        assert_eq!(ods_code("ods", "m86003").as_deref(), Ok("M86003"));
        for refused in ["R", "RK B", " RKB", "RKB-1", "RKBÉ", "ＲＫＢ"] {
            let error = ods_code("ods", refused).unwrap_err();
            assert_eq!(
                error.to_string(),
                "ods: must be 3 to 10 letters or digits (an ODS code such as RKB)",
                "{refused:?}"
            );
        }
        assert!(iso_date("dob", "1970-02-28").is_ok());
        assert!(iso_date("dob", "1970-02-30").is_err());
        assert!(iso_date("dob", "19700228").is_err());
        assert!(identifier("user_id", "  ", 64).is_err());
        assert!(identifier("user_id", "a\nb", 64).is_err());
    }
}

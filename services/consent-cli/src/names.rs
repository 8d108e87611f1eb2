//! Enum values as people type and read them.
//!
//! On the command line and in output an enum value is its protobuf name
//! without the type prefix, lower-cased: `medications` is
//! `RECORD_SECTION_MEDICATIONS`. Every name comes from the generated
//! `as_str_name`/`from_str_name`, so a value added to the `.proto` files
//! reaches the CLI (and its `--help`) without an edit here.

use clap::builder::{PossibleValuesParser, TypedValueParser};

/// Highest enum number scanned when listing an enum's values. The API's
/// enums are small and numbered from 1; scanning a range rather than stopping
/// at the first gap keeps a later `reserved` number from hiding the values
/// after it.
const HIGHEST_SCANNED_VALUE: i32 = 255;

pub(crate) use icr_events::names::{ProtoEnum, short_name, short_name_of};

/// Short names of a repeated enum field, in order.
pub(crate) fn short_names_of<E: ProtoEnum>(raw: &[i32]) -> Vec<String> {
    raw.iter().map(|&value| short_name_of::<E>(value)).collect()
}

/// Parses a short name (any case). `unspecified` is refused: it is the
/// protobuf default, which the service treats as "not given".
pub(crate) fn parse<E: ProtoEnum>(text: &str) -> Result<E, String> {
    let full_name = format!("{}{}", E::PREFIX, text.to_ascii_uppercase());
    match E::from_proto_name(&full_name) {
        Some(value) if value.into() != 0 => Ok(value),
        _ => Err(format!(
            "`{text}` is not one of: {}",
            known_values::<E>()
                .map(short_name)
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Every value of `E` except `unspecified`, in number order.
pub(crate) fn known_values<E: ProtoEnum>() -> impl Iterator<Item = E> {
    (1..=HIGHEST_SCANNED_VALUE).filter_map(|raw| E::try_from(raw).ok())
}

/// A clap value parser for `E` that lists the short names in `--help` and in
/// the error for a wrong value.
pub(crate) fn parser<E: ProtoEnum>() -> impl TypedValueParser<Value = E> {
    PossibleValuesParser::new(known_values::<E>().map(short_name))
        .try_map(|text: String| parse::<E>(&text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use icr_proto::pb;

    /// Every value of `E` survives short name → parse, and the prefix is the
    /// one the generated names really carry.
    fn assert_round_trips<E: ProtoEnum + PartialEq + std::fmt::Debug>() {
        let unspecified = E::try_from(0).ok().map(|value| value.proto_name());
        assert_eq!(
            unspecified,
            Some(format!("{}UNSPECIFIED", E::PREFIX).as_str())
        );
        let values: Vec<E> = known_values::<E>().collect();
        assert!(!values.is_empty());
        for value in values {
            let name = short_name(value);
            assert_eq!(name, name.to_ascii_lowercase());
            assert_eq!(parse::<E>(&name), Ok(value), "{name}");
        }
    }

    #[test]
    fn every_enum_round_trips() {
        assert_round_trips::<pb::RecordSection>();
        assert_round_trips::<pb::Purpose>();
        assert_round_trips::<pb::ObjectionScope>();
        assert_round_trips::<pb::PowerOfAttorneyKind>();
        assert_round_trips::<pb::CareRelationshipKind>();
        assert_round_trips::<pb::ConsentModel>();
        assert_round_trips::<pb::Outcome>();
    }

    #[test]
    fn short_names_drop_the_prefix() {
        assert_eq!(short_name(pb::RecordSection::Medications), "medications");
        assert_eq!(
            short_name(pb::RecordSection::TestResultsPathology),
            "test_results_pathology"
        );
        assert_eq!(
            parse::<pb::PowerOfAttorneyKind>("court_appointed_deputy"),
            Ok(pb::PowerOfAttorneyKind::CourtAppointedDeputy)
        );
    }

    #[test]
    fn parsing_ignores_case() {
        assert_eq!(
            parse::<pb::Purpose>("DIRECT_CARE"),
            Ok(pb::Purpose::DirectCare)
        );
    }

    #[test]
    fn unspecified_and_unknown_names_are_refused() {
        assert!(parse::<pb::RecordSection>("unspecified").is_err());
        assert!(parse::<pb::RecordSection>("record_section_medications").is_err());
        let error = parse::<pb::ConsentModel>("opt_in").expect_err("unknown model");
        assert!(error.contains("opt_out, permission_to_view"), "{error}");
    }

    #[test]
    fn unknown_numbers_are_shown() {
        assert_eq!(short_name_of::<pb::Purpose>(1), "direct_care");
        assert_eq!(short_name_of::<pb::Purpose>(99), "unknown(99)");
    }
}

//! Enum values and gRPC codes by the short names scenario files use.
//!
//! An enum value is its protobuf name without the type prefix, lower-cased
//! (`medications` is `RECORD_SECTION_MEDICATIONS`), parsed with the generated
//! `from_str_name`, as the CLI and the policy packs do: a value added to the
//! `.proto` files is usable here without an edit. A gRPC code is tonic's
//! name in snake case (`failed_precondition`).

use serde::Deserialize;

pub use icr_events::names::{ProtoEnum, short_name};

/// A value of `E` read from its short name; `unspecified` is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Named<E: ProtoEnum>(pub(crate) E);

impl<'de, E: ProtoEnum> Deserialize<'de> for Named<E> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::try_from(text).map_err(serde::de::Error::custom)
    }
}

impl<E: ProtoEnum> TryFrom<String> for Named<E> {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        let full = format!("{}{}", E::PREFIX, text.to_ascii_uppercase());
        match E::from_proto_name(&full) {
            Some(value) if value.into() != 0 => Ok(Self(value)),
            _ => Err(format!(
                "`{text}` is not a known {} value",
                E::PREFIX.trim_end_matches('_').to_ascii_lowercase()
            )),
        }
    }
}

impl<E: ProtoEnum> Named<E> {
    /// The wire number of the value.
    pub(crate) fn number(self) -> i32 {
        self.0.into()
    }
}

/// A gRPC status code read from its snake-case name, e.g. `already_exists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub(crate) struct GrpcCode(pub(crate) tonic::Code);

impl TryFrom<String> for GrpcCode {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        // tonic numbers the codes 0..=16 as the gRPC spec does.
        (0..=16)
            .map(tonic::Code::from_i32)
            .find(|code| code_name(*code) == text)
            .filter(|code| *code != tonic::Code::Ok)
            .map(Self)
            .ok_or_else(|| format!("`{text}` is not a gRPC error code such as failed_precondition"))
    }
}

/// The snake-case name of a gRPC code: `FailedPrecondition` → `failed_precondition`.
pub(crate) fn code_name(code: tonic::Code) -> String {
    let mut name = String::new();
    for (index, c) in format!("{code:?}").chars().enumerate() {
        if c.is_ascii_uppercase() && index > 0 {
            name.push('_');
        }
        name.push(c.to_ascii_lowercase());
    }
    name
}

#[cfg(test)]
mod tests {
    use icr_proto::pb;

    use super::*;

    fn named<E: ProtoEnum>(text: &str) -> Result<E, String> {
        Named::<E>::try_from(text.to_owned()).map(|n| n.0)
    }

    #[test]
    fn short_names_parse() {
        assert_eq!(named("medications"), Ok(pb::RecordSection::Medications));
        assert_eq!(
            named("test_results_pathology"),
            Ok(pb::RecordSection::TestResultsPathology)
        );
        assert_eq!(
            named("property_and_financial_lpa"),
            Ok(pb::PowerOfAttorneyKind::PropertyAndFinancialLpa)
        );
        assert_eq!(named("break_glass"), Ok(pb::AccessMode::BreakGlass));
        assert_eq!(named("deny"), Ok(pb::Outcome::Deny));
    }

    #[test]
    fn unspecified_and_unknown_names_are_refused() {
        assert!(named::<pb::Purpose>("unspecified").is_err());
        let error = named::<pb::RecordSection>("medicine").expect_err("unknown");
        assert!(error.contains("record_section"), "{error}");
    }

    #[test]
    fn grpc_codes_parse_in_snake_case() {
        let code = |text: &str| GrpcCode::try_from(text.to_owned()).map(|c| c.0);
        assert_eq!(
            code("failed_precondition"),
            Ok(tonic::Code::FailedPrecondition)
        );
        assert_eq!(code("invalid_argument"), Ok(tonic::Code::InvalidArgument));
        assert_eq!(code("unauthenticated"), Ok(tonic::Code::Unauthenticated));
        assert!(code("ok").is_err());
        assert!(code("FailedPrecondition").is_err());
        assert_eq!(code_name(tonic::Code::AlreadyExists), "already_exists");
    }
}

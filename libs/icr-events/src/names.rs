//! Protobuf enum values by their short names: the protobuf name without
//! the type's prefix, lower-cased (`medications` is
//! `RECORD_SECTION_MEDICATIONS`). The event summaries, the scenarios and the
//! CLI all name enum values this way.

use icr_proto::pb;

/// A generated protobuf enum named by its short form.
pub trait ProtoEnum: Copy + Send + Sync + 'static + TryFrom<i32> + Into<i32> {
    /// Prefix of every value's protobuf name, e.g. `RECORD_SECTION_`.
    const PREFIX: &'static str;
    /// The value with this full protobuf name.
    fn from_proto_name(name: &str) -> Option<Self>;
    /// The full protobuf name of this value.
    fn proto_name(self) -> &'static str;
}

macro_rules! proto_enum {
    ($($enum:ty => $prefix:literal),* $(,)?) => {$(
        impl ProtoEnum for $enum {
            const PREFIX: &'static str = $prefix;
            fn from_proto_name(name: &str) -> Option<Self> {
                <$enum>::from_str_name(name)
            }
            fn proto_name(self) -> &'static str {
                self.as_str_name()
            }
        }
    )*};
}

proto_enum! {
    pb::RecordSection => "RECORD_SECTION_",
    pb::Purpose => "PURPOSE_",
    pb::ObjectionScope => "OBJECTION_SCOPE_",
    pb::PowerOfAttorneyKind => "POWER_OF_ATTORNEY_KIND_",
    pb::CareRelationshipKind => "CARE_RELATIONSHIP_KIND_",
    pb::ConsentModel => "CONSENT_MODEL_",
    pb::Outcome => "OUTCOME_",
    pb::AccessMode => "ACCESS_MODE_",
    pb::ReviewOutcome => "REVIEW_OUTCOME_",
}

/// The short name of an enum value, e.g. `medications`.
pub fn short_name<E: ProtoEnum>(value: E) -> String {
    crate::codes::short_name(value.proto_name(), E::PREFIX)
}

/// The short name of a raw enum number as it arrives in a message. A number
/// this build does not know (a newer writer) is shown, not hidden.
pub fn short_name_of<E: ProtoEnum>(raw: i32) -> String {
    match E::try_from(raw) {
        Ok(value) => short_name(value),
        Err(_) => format!("unknown({raw})"),
    }
}

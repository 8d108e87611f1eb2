//! The plain words events are read in: the [`Summary`] each kind gives,
//! and the small pieces summaries are made of.

use icr_proto::pb::{
    CareRelationshipKind, ConsentModel, ObjectionScope, PowerOfAttorneyKind, Purpose,
    RecordSection, ReviewOutcome,
};

/// A readable account of one event of a kind, for operators (the CLI's
/// `events` table). Each kind says it beside its other rules.
pub trait Summary {
    /// One line of plain words saying what the event records.
    fn summary(&self) -> String;
}

/// A protobuf enum with the prefix its value names carry.
pub(crate) trait Named: TryFrom<i32> {
    /// Prefix of every value's protobuf name, e.g. `RECORD_SECTION_`.
    const PREFIX: &'static str;
    /// The full protobuf name of this value.
    fn proto_name(&self) -> &'static str;
}

macro_rules! named {
    ($($enum:ty => $prefix:literal),* $(,)?) => {$(
        impl Named for $enum {
            const PREFIX: &'static str = $prefix;
            fn proto_name(&self) -> &'static str {
                self.as_str_name()
            }
        }
    )*};
}

named! {
    RecordSection => "RECORD_SECTION_",
    Purpose => "PURPOSE_",
    ObjectionScope => "OBJECTION_SCOPE_",
    PowerOfAttorneyKind => "POWER_OF_ATTORNEY_KIND_",
    CareRelationshipKind => "CARE_RELATIONSHIP_KIND_",
    ConsentModel => "CONSENT_MODEL_",
    ReviewOutcome => "REVIEW_OUTCOME_",
}

/// The short name of a raw enum number as it arrives in a message: its
/// protobuf name without the prefix, lower-cased (`medications`). A number
/// this build does not know is shown, not hidden.
pub(crate) fn enum_name<E: Named>(raw: i32) -> String {
    match E::try_from(raw) {
        Ok(value) => crate::codes::short_name(value.proto_name(), E::PREFIX),
        Err(_) => format!("unknown({raw})"),
    }
}

/// Short names of a repeated enum field, joined with commas, in order.
pub(crate) fn enum_names<E: Named>(raw: &[i32]) -> String {
    let names: Vec<String> = raw.iter().map(|&value| enum_name::<E>(value)).collect();
    names.join(", ")
}

/// ` (by attorney X)` when an attorney acted, nothing when the patient did.
pub(crate) fn by_attorney(attorney_id: &str) -> String {
    if attorney_id.is_empty() {
        String::new()
    } else {
        format!(" (by attorney {attorney_id})")
    }
}

/// The dates a power of attorney is valid; no end date means open-ended.
pub(crate) fn validity(from: &str, until: &str) -> String {
    if until.is_empty() {
        format!("valid from {from}, open-ended")
    } else {
        format!("valid {from} to {until}")
    }
}

/// Which other regions may view a region's patients.
pub(crate) fn viewed_from(viewing_regions: &[String]) -> String {
    if viewing_regions.is_empty() {
        "viewed from its own region only".to_owned()
    } else {
        format!("also viewed from {}", viewing_regions.join(", "))
    }
}

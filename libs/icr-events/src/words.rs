//! The plain words events are read in: the [`Summary`] each kind gives,
//! and the small pieces summaries are made of.

use crate::names::ProtoEnum;

/// A readable account of one event of a kind, for operators (the CLI's
/// `events` table). Each kind says it beside its other rules.
pub trait Summary {
    /// One line of plain words saying what the event records.
    fn summary(&self) -> String;
}

/// The short name of a raw enum number as it arrives in a message.
pub(crate) use crate::names::short_name_of as enum_name;

/// Short names of a repeated enum field, joined with commas, in order.
pub(crate) fn enum_names<E: ProtoEnum>(raw: &[i32]) -> String {
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

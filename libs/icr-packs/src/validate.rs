//! A policy event checked the way the decision engine will read it. Every
//! error names the field.

use icr_events::FieldError;
use icr_events::codes::{
    at_most, consent_model, identifier, iso_date, ods_code, purpose, region_code, role_code,
    section,
};
use icr_proto::pb::EventPayload;
use icr_proto::pb::event_payload::Kind;

use crate::limits::{
    MAX_MINIMUM_AGE, MAX_NAME, MAX_REVIEW_DAYS, MAX_ROLE_PURPOSES, MAX_ROLE_SECTIONS,
    MAX_VIEWING_REGIONS,
};

/// A required name.
fn name(field: &str, value: &str) -> Result<(), FieldError> {
    identifier(field, value, MAX_NAME)
}

/// Refuses a list that names the same value twice: each policy line is
/// multiplied out when the engine is built, so repeats only cost.
fn distinct<T: Ord>(field: &str, values: &[T]) -> Result<(), FieldError> {
    let unique: std::collections::BTreeSet<_> = values.iter().collect();
    if unique.len() == values.len() {
        Ok(())
    } else {
        Err(FieldError::new(field, "must not repeat a value"))
    }
}

/// An ODS code already in its one, upper-case form: the policy RPCs
/// rewrite a request's code before the event is built, so only a pack file
/// can bring another form here, and it is refused rather than recorded.
fn recorded_ods(field: &str, value: &str) -> Result<(), FieldError> {
    if ods_code(field, value)? == value {
        Ok(())
    } else {
        Err(FieldError::new(field, "must be written upper-case, as RKB"))
    }
}

/// Checks a policy event the way the decision engine will read it, so a bad
/// policy is refused before it reaches the log. The policy RPCs and the
/// pack loaded at first start both go through here.
pub fn validate_policy_event(payload: &EventPayload) -> Result<(), FieldError> {
    match payload.kind.as_ref() {
        Some(Kind::OrganisationJoined(e)) => {
            recorded_ods("ods_code", &e.ods_code)?;
            name("name", &e.name)?;
            region_code("region", &e.region)
        }
        Some(Kind::OrganisationLeft(e)) => recorded_ods("ods_code", &e.ods_code),
        Some(Kind::RolePolicySet(e)) => {
            role_code("role_code", &e.role_code)?;
            name("description", &e.description)?;
            at_most("sections", e.sections.len(), MAX_ROLE_SECTIONS)?;
            at_most("purposes", e.purposes.len(), MAX_ROLE_PURPOSES)?;
            for (i, &s) in e.sections.iter().enumerate() {
                section(&format!("sections[{i}]"), s)?;
            }
            distinct("sections", &e.sections)?;
            distinct("purposes", &e.purposes)?;
            if e.purposes.is_empty() {
                return Err(FieldError::new(
                    "purposes",
                    "must list at least one purpose",
                ));
            }
            for (i, &p) in e.purposes.iter().enumerate() {
                purpose(&format!("purposes[{i}]"), p)?;
            }
            Ok(())
        }
        Some(Kind::RegionPolicySet(e)) => {
            region_code("region", &e.region)?;
            name("name", &e.name)?;
            consent_model("consent_model", e.consent_model)?;
            if e.minimum_age > MAX_MINIMUM_AGE {
                return Err(FieldError::new(
                    "minimum_age",
                    format!("must be at most {MAX_MINIMUM_AGE}"),
                ));
            }
            at_most(
                "viewing_regions",
                e.viewing_regions.len(),
                MAX_VIEWING_REGIONS,
            )?;
            for (i, r) in e.viewing_regions.iter().enumerate() {
                region_code(&format!("viewing_regions[{i}]"), r)?;
            }
            distinct("viewing_regions", &e.viewing_regions)?;
            if !e.children_social_care_from.is_empty() {
                iso_date("children_social_care_from", &e.children_social_care_from)?;
            }
            // Exceptional access is only allowed with a real review period.
            let exceptional = e.break_glass || e.self_claimed_relationship;
            let min_review = u32::from(exceptional);
            if !(min_review..=MAX_REVIEW_DAYS).contains(&e.review_within_days) {
                return Err(FieldError::new(
                    "review_within_days",
                    format!("must be {min_review} to {MAX_REVIEW_DAYS} days"),
                ));
            }
            Ok(())
        }
        _ => Err(FieldError::new("payload", "not a policy event")),
    }
}

//! One line of plain words per event payload, for the `events` table.

use icr_proto::pb::event_payload::Kind;
use icr_proto::pb::{
    CareRelationshipKind, ConsentModel, EventPayload, ObjectionScope, PowerOfAttorneyKind, Purpose,
    RecordSection, ReviewOutcome,
};

use crate::{dates, names};

/// A short readable account of what the event records.
pub(crate) fn summarise(payload: Option<&EventPayload>) -> String {
    let Some(kind) = payload.and_then(|payload| payload.kind.as_ref()) else {
        // A payload this build cannot decode (a newer server) arrives empty.
        return "(payload unknown to this version of consent-cli)".to_owned();
    };
    match kind {
        Kind::PatientRegistered(event) => format!(
            "{} registered with practice {}, born {}",
            event.nhs_number, event.gp_practice_ods, event.date_of_birth
        ),
        Kind::ObjectionRecorded(event) => format!(
            "{} objects to {}{}",
            event.nhs_number,
            names::short_name_of::<ObjectionScope>(event.scope),
            by_attorney(&event.attorney_id)
        ),
        Kind::ObjectionWithdrawn(event) => format!(
            "{} withdrew objection to {}{}",
            event.nhs_number,
            names::short_name_of::<ObjectionScope>(event.scope),
            by_attorney(&event.attorney_id)
        ),
        Kind::PowerOfAttorneyRegistered(event) => format!(
            "attorney {} for {}: {}, verified by {}, {}",
            event.attorney_id,
            event.nhs_number,
            names::short_name_of::<PowerOfAttorneyKind>(event.kind),
            event.verified_by,
            validity(&event.valid_from, &event.valid_until)
        ),
        Kind::PowerOfAttorneyRevoked(event) => format!(
            "attorney {} for {} revoked",
            event.attorney_id, event.nhs_number
        ),
        Kind::CareRelationshipStarted(event) => format!(
            "{} started {} {} for {}",
            event.organisation_ods,
            names::short_name_of::<CareRelationshipKind>(event.kind),
            event.relationship_id,
            event.nhs_number
        ),
        Kind::CareRelationshipEnded(event) => format!(
            "care relationship {} for {} ended",
            event.relationship_id, event.nhs_number
        ),
        Kind::PermissionToViewGranted(event) => format!(
            "{} lets {} view until {}",
            event.nhs_number,
            event.organisation_ods,
            dates::format_timestamp(event.until.as_ref())
                .unwrap_or_else(|| "the end of the episode".to_owned())
        ),
        Kind::PermissionToViewRevoked(event) => format!(
            "{} revoked {}'s permission to view",
            event.nhs_number, event.organisation_ods
        ),
        Kind::OrganisationJoined(event) => format!(
            "{} ({}) joined in region {}",
            event.ods_code, event.name, event.region
        ),
        Kind::OrganisationLeft(event) => format!("{} left", event.ods_code),
        Kind::RolePolicySet(event) => format!(
            "role {} ({}) sees {} for {}",
            event.role_code,
            event.description,
            names::short_names_of::<RecordSection>(&event.sections).join(", "),
            names::short_names_of::<Purpose>(&event.purposes).join(", ")
        ),
        Kind::RegionPolicySet(event) => format!(
            "region {} ({}): {}, minimum age {}, {}",
            event.region,
            event.name,
            names::short_name_of::<ConsentModel>(event.consent_model),
            event.minimum_age,
            viewed_from(&event.viewing_regions)
        ),
        Kind::AccessReviewed(event) => format!(
            "access {} reviewed: {}{}",
            event.decision_id,
            names::short_name_of::<ReviewOutcome>(event.outcome),
            if event.note.is_empty() {
                String::new()
            } else {
                format!(" ({})", event.note)
            }
        ),
    }
}

/// ` (by attorney X)` when an attorney acted, nothing when the patient did.
fn by_attorney(attorney_id: &str) -> String {
    if attorney_id.is_empty() {
        String::new()
    } else {
        format!(" (by attorney {attorney_id})")
    }
}

/// The dates a power of attorney is valid; no end date means open-ended.
fn validity(from: &str, until: &str) -> String {
    if until.is_empty() {
        format!("valid from {from}, open-ended")
    } else {
        format!("valid {from} to {until}")
    }
}

/// Which other regions may view a region's patients.
fn viewed_from(viewing_regions: &[String]) -> String {
    if viewing_regions.is_empty() {
        "viewed from its own region only".to_owned()
    } else {
        format!("also viewed from {}", viewing_regions.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use icr_proto::pb::{PowerOfAttorneyRegistered, RolePolicySet};

    fn payload(kind: Kind) -> EventPayload {
        EventPayload { kind: Some(kind) }
    }

    #[test]
    fn policies_list_their_short_names() {
        let role = payload(Kind::RolePolicySet(RolePolicySet {
            role_code: "R8000".to_owned(),
            description: "Clinical".to_owned(),
            sections: vec![
                RecordSection::Medications.into(),
                RecordSection::Allergies.into(),
            ],
            purposes: vec![Purpose::DirectCare.into()],
            clinical: true,
        }));
        assert_eq!(
            summarise(Some(&role)),
            "role R8000 (Clinical) sees medications, allergies for direct_care"
        );
    }

    #[test]
    fn an_open_ended_attorney_says_so() {
        let attorney = payload(Kind::PowerOfAttorneyRegistered(PowerOfAttorneyRegistered {
            nhs_number: "9434765919".to_owned(),
            attorney_id: "ATT-1".to_owned(),
            kind: PowerOfAttorneyKind::HealthAndWelfareLpa.into(),
            verified_by: "staff-9".to_owned(),
            valid_from: "2026-01-01".to_owned(),
            valid_until: String::new(),
        }));
        assert_eq!(
            summarise(Some(&attorney)),
            "attorney ATT-1 for 9434765919: health_and_welfare_lpa, verified by staff-9, \
             valid from 2026-01-01, open-ended"
        );
        assert!(summarise(None).contains("unknown"));
    }
}

//! One line of plain words per event payload, for the `events` table.
//!
//! Each event kind says how it reads beside its other rules in
//! `icr-events` ([`icr_events::Summary`]), so a new kind needs no edit here.

use icr_proto::pb::EventPayload;

/// A short readable account of what the event records.
pub(crate) fn summarise(payload: Option<&EventPayload>) -> String {
    // A payload this build cannot decode (a newer server) arrives empty.
    payload
        .and_then(icr_events::summary)
        .unwrap_or_else(|| "(payload unknown to this version of consent-cli)".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use icr_proto::pb::event_payload::Kind;
    use icr_proto::pb::{
        PowerOfAttorneyKind, PowerOfAttorneyRegistered, Purpose, RecordSection, RolePolicySet,
    };

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

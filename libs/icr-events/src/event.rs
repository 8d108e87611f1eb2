//! Event type names, schema versions and stream names.

use std::fmt;

use icr_proto::pb::EventPayload;
use icr_proto::pb::event_payload::Kind;

use crate::NhsNumber;

/// Every event type name the log may hold, for filters.
pub const EVENT_TYPES: [&str; 14] = [
    "PatientRegistered",
    "ObjectionRecorded",
    "ObjectionWithdrawn",
    "PowerOfAttorneyRegistered",
    "PowerOfAttorneyRevoked",
    "CareRelationshipStarted",
    "CareRelationshipEnded",
    "PermissionToViewGranted",
    "PermissionToViewRevoked",
    "OrganisationJoined",
    "OrganisationLeft",
    "RolePolicySet",
    "RegionPolicySet",
    "AccessReviewed",
];

/// The stored name and schema version of an event payload. The name is what
/// upcasters and auditors key on; bump the version when a payload's meaning
/// changes, and teach the fold to read both.
pub fn event_type(payload: &EventPayload) -> Option<(&'static str, u32)> {
    let name = match payload.kind.as_ref()? {
        Kind::PatientRegistered(_) => "PatientRegistered",
        Kind::ObjectionRecorded(_) => "ObjectionRecorded",
        Kind::ObjectionWithdrawn(_) => "ObjectionWithdrawn",
        Kind::PowerOfAttorneyRegistered(_) => "PowerOfAttorneyRegistered",
        Kind::PowerOfAttorneyRevoked(_) => "PowerOfAttorneyRevoked",
        Kind::CareRelationshipStarted(_) => "CareRelationshipStarted",
        Kind::CareRelationshipEnded(_) => "CareRelationshipEnded",
        Kind::PermissionToViewGranted(_) => "PermissionToViewGranted",
        Kind::PermissionToViewRevoked(_) => "PermissionToViewRevoked",
        Kind::OrganisationJoined(_) => "OrganisationJoined",
        Kind::OrganisationLeft(_) => "OrganisationLeft",
        Kind::RolePolicySet(_) => "RolePolicySet",
        Kind::RegionPolicySet(_) => "RegionPolicySet",
        Kind::AccessReviewed(_) => "AccessReviewed",
    };
    Some((name, 1))
}

/// The stream an event belongs to: one per patient, one per policy subject.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StreamId {
    /// A patient's consent and care context.
    Patient(NhsNumber),
    /// An organisation's membership of the sharing agreement.
    Organisation(String),
    /// A national RBAC job role's section policy.
    Role(String),
    /// A region's consent model and viewing rules.
    Region(String),
    /// The review of one exceptional access, by decision id: one review
    /// per access.
    Review(String),
}

impl StreamId {
    /// The stream of a payload, derived from the identifiers it carries.
    /// `None` for an empty payload or a malformed NHS number.
    pub fn of(payload: &EventPayload) -> Option<Self> {
        let patient = |n: &str| n.parse().ok().map(StreamId::Patient);
        match payload.kind.as_ref()? {
            Kind::PatientRegistered(e) => patient(&e.nhs_number),
            Kind::ObjectionRecorded(e) => patient(&e.nhs_number),
            Kind::ObjectionWithdrawn(e) => patient(&e.nhs_number),
            Kind::PowerOfAttorneyRegistered(e) => patient(&e.nhs_number),
            Kind::PowerOfAttorneyRevoked(e) => patient(&e.nhs_number),
            Kind::CareRelationshipStarted(e) => patient(&e.nhs_number),
            Kind::CareRelationshipEnded(e) => patient(&e.nhs_number),
            Kind::PermissionToViewGranted(e) => patient(&e.nhs_number),
            Kind::PermissionToViewRevoked(e) => patient(&e.nhs_number),
            Kind::OrganisationJoined(e) => Some(Self::Organisation(e.ods_code.clone())),
            Kind::OrganisationLeft(e) => Some(Self::Organisation(e.ods_code.clone())),
            Kind::RolePolicySet(e) => Some(Self::Role(e.role_code.clone())),
            Kind::RegionPolicySet(e) => Some(Self::Region(e.region.clone())),
            Kind::AccessReviewed(e) => Some(Self::Review(e.decision_id.clone())),
        }
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Patient(n) => write!(f, "patient/{n}"),
            Self::Organisation(ods) => write!(f, "organisation/{ods}"),
            Self::Role(code) => write!(f, "role/{code}"),
            Self::Region(code) => write!(f, "region/{code}"),
            Self::Review(decision_id) => write!(f, "review/{decision_id}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use icr_proto::pb::ObjectionRecorded;

    #[test]
    fn patient_events_go_to_the_patient_stream() {
        let payload = EventPayload {
            kind: Some(Kind::ObjectionRecorded(ObjectionRecorded {
                nhs_number: "9434765919".into(),
                ..Default::default()
            })),
        };
        let stream = StreamId::of(&payload).expect("stream");
        assert_eq!(stream.to_string(), "patient/9434765919");
        assert_eq!(event_type(&payload), Some(("ObjectionRecorded", 1)));
        assert_eq!(event_type(&EventPayload::default()), None);
    }
}

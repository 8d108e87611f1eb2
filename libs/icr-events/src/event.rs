//! The event kinds, declared once: each kind's type name, schema version and
//! stream.
//!
//! `event_kinds!` below takes the one list of kinds: one row per kind, the
//! patient kinds' rows in `patient/kinds.rs` beside their rules, the others
//! here. From it follow [`EVENT_TYPES`], [`EVENT_KINDS`], [`event_type`],
//! [`StreamId::of`] and [`summary`]; the patient module hands its own rows
//! to their fold and decide rules. The matches here name every kind, so a
//! kind added to `events.proto` does not compile until it has a row.

use std::fmt;

use icr_proto::pb::EventPayload;
use icr_proto::pb::event_payload::Kind;

use crate::NhsNumber;
pub use crate::words::Summary;

/// Declares the event kinds. Patient kinds go to `patient/<nhs_number>` and
/// are folded by [`Patient`](crate::Patient); every other kind names the [`StreamId`]
/// variant and the field that identifies its stream.
macro_rules! event_kinds {
    (
        patient { $($patient:ident: $patient_version:literal,)* }
        other { $($other:ident: $other_version:literal => $stream:ident($field:ident),)* }
    ) => {
        /// Every event type name the log may hold, for filters.
        pub const EVENT_TYPES: [&str; [$(stringify!($patient),)* $(stringify!($other),)*].len()] =
            [$(stringify!($patient),)* $(stringify!($other),)*];

        /// Every event kind this build folds: type name and schema version,
        /// in declaration order. A snapshot records the list it was folded
        /// with, and a build with another list folds the log instead.
        pub const EVENT_KINDS: [(&str, u32); EVENT_TYPES.len()] = [
            $((stringify!($patient), $patient_version),)*
            $((stringify!($other), $other_version),)*
        ];

        /// The stored name and schema version of an event payload. The name
        /// is what upcasters and auditors key on; bump the version when a
        /// payload's meaning changes, and teach the fold to read both.
        pub fn event_type(payload: &EventPayload) -> Option<(&'static str, u32)> {
            Some(match payload.kind.as_ref()? {
                $(Kind::$patient(_) => (stringify!($patient), $patient_version),)*
                $(Kind::$other(_) => (stringify!($other), $other_version),)*
            })
        }

        impl StreamId {
            /// The stream of a payload, derived from the identifiers it
            /// carries. `None` for an empty payload or a malformed NHS number.
            pub fn of(payload: &EventPayload) -> Option<Self> {
                match payload.kind.as_ref()? {
                    $(Kind::$patient(e) => e.nhs_number.parse().ok().map(StreamId::Patient),)*
                    $(Kind::$other(e) => Some(Self::$stream(e.$field.clone())),)*
                }
            }
        }

        /// What the event records, in one line of plain words; `None` for a
        /// payload this build cannot read (written by a newer one).
        pub fn summary(payload: &EventPayload) -> Option<String> {
            Some(match payload.kind.as_ref()? {
                $(Kind::$patient(e) => e.summary(),)*
                $(Kind::$other(e) => e.summary(),)*
            })
        }
    };
}

// The patient kinds' rows are in `patient/kinds.rs`, beside their rules.
crate::patient::with_patient_kinds! {
    event_kinds! {
        other {
            OrganisationJoined: 1 => Organisation(ods_code),
            OrganisationLeft: 1 => Organisation(ods_code),
            RolePolicySet: 1 => Role(role_code),
            RegionPolicySet: 1 => Region(region),
            AccessReviewed: 1 => Review(decision_id),
        }
    }
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

    #[test]
    fn the_stored_type_names_and_versions_never_change() {
        // Names in the log are forever: a kind is only ever added (at the
        // end of its group), never renamed. Every kind is at version 1.
        assert_eq!(
            EVENT_TYPES,
            [
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
            ]
        );
        assert!(EVENT_KINDS.iter().all(|&(_, version)| version == 1));
        let names: Vec<&str> = EVENT_KINDS.iter().map(|&(name, _)| name).collect();
        assert_eq!(names, EVENT_TYPES);
    }
}

//! The facts a patient's state is made of. Each fact keeps the log position
//! of the event that established it, so no separate index of sources (and
//! no second copy of its key) is needed.

use compact_str::CompactString;
use icr_proto::pb::{CareRelationshipKind, PowerOfAttorneyKind};
use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::OdsCode;
use super::sorted::Keyed;

/// Where the patient is registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    /// ODS code of the registered GP practice.
    pub gp_practice_ods: OdsCode,
    /// Date of birth.
    pub date_of_birth: Date,
    /// Log position of the registration event.
    pub position: u64,
}

/// A registered power of attorney.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attorney {
    /// Kind of power held.
    #[serde(with = "proto_enum")]
    pub kind: PowerOfAttorneyKind,
    /// Who verified the instrument.
    pub verified_by: String,
    /// First day of validity.
    pub valid_from: Date,
    /// Last day of validity, if any.
    pub valid_until: Option<Date>,
}

impl Attorney {
    /// Whether this power lets the attorney make consent decisions on `today`:
    /// only a health-and-welfare LPA or a court-appointed deputyship, verified,
    /// within its validity.
    pub fn may_decide_consent(&self, today: Date) -> bool {
        let kind_ok = matches!(
            self.kind,
            PowerOfAttorneyKind::HealthAndWelfareLpa | PowerOfAttorneyKind::CourtAppointedDeputy
        );
        let in_date = self.valid_from <= today && self.valid_until.is_none_or(|end| today <= end);
        kind_ok && in_date && !self.verified_by.is_empty()
    }
}

/// An organisation's involvement in the patient's care.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CareRelationship {
    /// The feed's relationship id (kept inline up to 24 bytes).
    pub relationship_id: CompactString,
    /// ODS code of the organisation.
    pub organisation_ods: OdsCode,
    /// How it is involved.
    #[serde(with = "proto_enum")]
    pub kind: CareRelationshipKind,
    /// Log position of the event that started it.
    pub position: u64,
}

impl Keyed for CareRelationship {
    type Key = str;

    fn key(&self) -> &str {
        &self.relationship_id
    }
}

/// The last grant of a permission to view to one organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Grant {
    /// When the permission lapses; `None` when the grant's end could not be
    /// read, which grants nothing (but the grant is still the source of the
    /// permission's absence).
    pub(super) until: Option<Timestamp>,
    /// Log position of the grant.
    pub(super) position: u64,
}

/// Events this build could not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Unreadable {
    /// How many.
    pub(super) events: u64,
    /// Log position of the first.
    pub(super) first_position: u64,
}

/// A fact about the patient, for explaining which event established it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Source {
    /// The GP registration and date of birth.
    Registration,
    /// An active objection, by [`ObjectionScope`](icr_proto::pb::ObjectionScope) number.
    Objection(i32),
    /// An active care relationship, by relationship id.
    CareRelationship(String),
    /// A permission to view, by organisation ODS code.
    PermissionToView(String),
    /// The first event this build could not read.
    Unreadable,
}

/// Protobuf enums kept by their number, as on the wire: a number this build
/// does not know reads back as an error, never as another value.
mod proto_enum {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(super) fn serialize<E, S>(value: &E, serializer: S) -> Result<S::Ok, S::Error>
    where
        E: Copy + Into<i32>,
        S: Serializer,
    {
        (*value).into().serialize(serializer)
    }

    pub(super) fn deserialize<'de, E, D>(deserializer: D) -> Result<E, D::Error>
    where
        E: TryFrom<i32>,
        D: Deserializer<'de>,
    {
        let number = i32::deserialize(deserializer)?;
        E::try_from(number)
            .map_err(|_| serde::de::Error::custom(format!("unknown enum number {number}")))
    }
}

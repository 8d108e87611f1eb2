//! The patient aggregate: a fold of one patient's stream, and the rules that
//! decide whether a proposed change to it is accepted.
//!
//! The same fold serves the command side (load the stream, decide) and the
//! projections (current state for decisions), so the two cannot disagree.

use std::collections::{BTreeMap, BTreeSet};

use icr_proto::pb::event_payload::Kind;
use icr_proto::pb::{
    CareRelationshipKind, EventPayload, ObjectionScope, PowerOfAttorneyKind, Purpose,
};
use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::{CommandError, timestamp_from_proto, uk_date};

/// Where the patient is registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    /// ODS code of the registered GP practice.
    pub gp_practice_ods: String,
    /// Date of birth.
    pub date_of_birth: Date,
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
    /// ODS code of the organisation.
    pub organisation_ods: String,
    /// How it is involved.
    #[serde(with = "proto_enum")]
    pub kind: CareRelationshipKind,
}

/// A fact about the patient, for explaining which event established it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Source {
    /// The GP registration and date of birth.
    Registration,
    /// An active objection, by [`ObjectionScope`] number.
    Objection(i32),
    /// An active care relationship, by relationship id.
    CareRelationship(String),
    /// A permission to view, by organisation ODS code.
    PermissionToView(String),
    /// The first event this build could not read.
    Unreadable,
}

/// Current state of one patient, folded from their stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Patient {
    /// Version of the stream folded so far (0 = no events).
    pub version: u64,
    /// GP registration, once known.
    pub registration: Option<Registration>,
    /// Active objections, by [`ObjectionScope`] number.
    pub objections: BTreeSet<i32>,
    /// Registered attorneys by attorney id.
    pub attorneys: BTreeMap<String, Attorney>,
    /// Active care relationships by the feed's relationship id.
    pub care_relationships: BTreeMap<String, CareRelationship>,
    /// Permissions to view: organisation ODS code → when it lapses.
    pub permissions_to_view: BTreeMap<String, Timestamp>,
    /// Events of a kind this build cannot read (written by a newer one). Any
    /// such event might be an objection, so the patient is treated as
    /// objecting until this build is upgraded.
    pub unreadable_events: u64,
    /// Log position of the event that established each current fact.
    pub sources: BTreeMap<Source, u64>,
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

/// Whether an objection with scope number `recorded` bars use for `scope`.
/// The Summary Care Record opt-out is separate and bars no ICR purpose; an
/// unspecified or unknown scope bars every purpose.
fn objection_bars(recorded: i32, scope: ObjectionScope) -> bool {
    match ObjectionScope::try_from(recorded) {
        Ok(ObjectionScope::SummaryCareRecord) => false,
        Ok(ObjectionScope::Unspecified) | Err(_) => true,
        Ok(known) => known == scope,
    }
}

impl Patient {
    /// Folds one event of this patient's stream, found at log `position`.
    /// Applying never fails: an event in the log is a fact.
    pub fn apply(&mut self, position: u64, payload: &EventPayload) {
        self.version += 1;
        let Some(kind) = payload.kind.as_ref() else {
            self.unreadable_events += 1;
            self.sources.entry(Source::Unreadable).or_insert(position);
            return;
        };
        self.note_source(position, kind);
        match kind {
            Kind::PatientRegistered(e) => {
                // A date that cannot be read leaves the patient unregistered,
                // hence out of every population: fail closed.
                self.registration =
                    e.date_of_birth
                        .parse()
                        .ok()
                        .map(|date_of_birth| Registration {
                            gp_practice_ods: e.gp_practice_ods.clone(),
                            date_of_birth,
                        });
            }
            Kind::ObjectionRecorded(e) => {
                self.objections.insert(e.scope);
            }
            Kind::ObjectionWithdrawn(e) => {
                self.objections.remove(&e.scope);
            }
            Kind::PowerOfAttorneyRegistered(e) => {
                let attorney = e.valid_from.parse().ok().map(|valid_from| Attorney {
                    kind: e.kind(),
                    verified_by: e.verified_by.clone(),
                    valid_from,
                    valid_until: e.valid_until.parse().ok(),
                });
                if let Some(attorney) = attorney {
                    self.attorneys.insert(e.attorney_id.clone(), attorney);
                }
            }
            Kind::PowerOfAttorneyRevoked(e) => {
                self.attorneys.remove(&e.attorney_id);
            }
            Kind::CareRelationshipStarted(e) => {
                let relationship = CareRelationship {
                    organisation_ods: e.organisation_ods.clone(),
                    kind: e.kind(),
                };
                self.care_relationships
                    .insert(e.relationship_id.clone(), relationship);
            }
            Kind::CareRelationshipEnded(e) => {
                self.care_relationships.remove(&e.relationship_id);
            }
            Kind::PermissionToViewGranted(e) => {
                let until = e.until.as_ref().and_then(timestamp_from_proto);
                match until {
                    Some(until) => self
                        .permissions_to_view
                        .insert(e.organisation_ods.clone(), until),
                    None => self.permissions_to_view.remove(&e.organisation_ods),
                };
            }
            Kind::PermissionToViewRevoked(e) => {
                self.permissions_to_view.remove(&e.organisation_ods);
            }
            Kind::OrganisationJoined(_)
            | Kind::OrganisationLeft(_)
            | Kind::RolePolicySet(_)
            | Kind::RegionPolicySet(_)
            | Kind::AccessReviewed(_) => {}
        }
    }

    /// Records (or forgets) which event established the fact `kind` touches.
    fn note_source(&mut self, position: u64, kind: &Kind) {
        let (source, active) = match kind {
            Kind::PatientRegistered(_) => (Source::Registration, true),
            Kind::ObjectionRecorded(e) => (Source::Objection(e.scope), true),
            Kind::ObjectionWithdrawn(e) => (Source::Objection(e.scope), false),
            Kind::CareRelationshipStarted(e) => {
                (Source::CareRelationship(e.relationship_id.clone()), true)
            }
            Kind::CareRelationshipEnded(e) => {
                (Source::CareRelationship(e.relationship_id.clone()), false)
            }
            Kind::PermissionToViewGranted(e) => {
                (Source::PermissionToView(e.organisation_ods.clone()), true)
            }
            Kind::PermissionToViewRevoked(e) => {
                (Source::PermissionToView(e.organisation_ods.clone()), false)
            }
            _ => return,
        };
        if active {
            self.sources.insert(source, position);
        } else {
            self.sources.remove(&source);
        }
    }

    /// Folds a whole stream of `(log position, payload)` pairs.
    pub fn from_events<'a>(events: impl IntoIterator<Item = (u64, &'a EventPayload)>) -> Self {
        let mut patient = Self::default();
        events
            .into_iter()
            .for_each(|(position, e)| patient.apply(position, e));
        patient
    }

    /// Whether an objection bars use of the record for `purpose`. Fails
    /// closed: an objection whose scope is unspecified or unknown to this
    /// build, or an event this build cannot read, bars every purpose.
    pub fn objects_to(&self, purpose: Purpose) -> bool {
        let scope = match purpose {
            Purpose::DirectCare => ObjectionScope::DirectCare,
            Purpose::SecondaryUse => ObjectionScope::SecondaryUse,
            Purpose::Unspecified => return true,
        };
        self.unreadable_events > 0 || self.objections.iter().any(|&s| objection_bars(s, scope))
    }

    /// Log positions of the events behind the objection that bars `purpose`.
    pub fn objection_sources(&self, purpose: Purpose) -> Vec<u64> {
        let scope = match purpose {
            Purpose::DirectCare => ObjectionScope::DirectCare,
            Purpose::SecondaryUse => ObjectionScope::SecondaryUse,
            Purpose::Unspecified => ObjectionScope::Unspecified,
        };
        self.sources
            .iter()
            .filter(|(source, _)| match source {
                Source::Objection(s) => objection_bars(*s, scope),
                Source::Unreadable => true,
                _ => false,
            })
            .map(|(_, position)| *position)
            .collect()
    }

    /// Whether `organisation_ods` has an active care relationship.
    pub fn has_care_relationship(&self, organisation_ods: &str) -> bool {
        self.care_relationships
            .values()
            .any(|r| r.organisation_ods == organisation_ods)
    }

    /// Whether `organisation_ods` holds a permission to view that has not lapsed at `now`.
    pub fn has_permission_to_view(&self, organisation_ods: &str, now: Timestamp) -> bool {
        self.permissions_to_view
            .get(organisation_ods)
            .is_some_and(|until| now < *until)
    }

    /// Decides whether `proposed` may be appended to this patient's stream at
    /// `now`. Identifiers and enum values were validated at the boundary; this
    /// checks the change against current state.
    pub fn decide(&self, proposed: &EventPayload, now: Timestamp) -> Result<(), CommandError> {
        let today = uk_date(now);
        let Some(kind) = proposed.kind.as_ref() else {
            return Err(CommandError::FailedPrecondition("empty event".into()));
        };
        match kind {
            Kind::PatientRegistered(e) => {
                let same = self.registration.as_ref().is_some_and(|r| {
                    r.gp_practice_ods == e.gp_practice_ods
                        && r.date_of_birth.to_string() == e.date_of_birth
                });
                if same {
                    return Err(CommandError::AlreadyExists(
                        "patient is already registered with these details".into(),
                    ));
                }
            }
            Kind::ObjectionRecorded(e) => {
                self.check_submitter(&e.attorney_id, today)?;
                if self.objections.contains(&e.scope) {
                    return Err(CommandError::AlreadyExists(
                        "an objection with this scope is already active".into(),
                    ));
                }
            }
            Kind::ObjectionWithdrawn(e) => {
                self.check_submitter(&e.attorney_id, today)?;
                if !self.objections.contains(&e.scope) {
                    return Err(CommandError::FailedPrecondition(
                        "there is no active objection with this scope".into(),
                    ));
                }
            }
            Kind::PowerOfAttorneyRegistered(e) => {
                if self.attorneys.contains_key(&e.attorney_id) {
                    return Err(CommandError::AlreadyExists(
                        "this attorney is already registered; revoke it first".into(),
                    ));
                }
            }
            Kind::PowerOfAttorneyRevoked(e) => {
                if !self.attorneys.contains_key(&e.attorney_id) {
                    return Err(CommandError::FailedPrecondition(
                        "no power of attorney is registered for this attorney".into(),
                    ));
                }
            }
            Kind::CareRelationshipStarted(e) => {
                if self.care_relationships.contains_key(&e.relationship_id) {
                    return Err(CommandError::AlreadyExists(
                        "this care relationship is already active".into(),
                    ));
                }
            }
            Kind::CareRelationshipEnded(e) => {
                if !self.care_relationships.contains_key(&e.relationship_id) {
                    return Err(CommandError::FailedPrecondition(
                        "no active care relationship has this id".into(),
                    ));
                }
            }
            Kind::PermissionToViewGranted(e) => {
                self.check_submitter(&e.attorney_id, today)?;
                let until = e.until.as_ref().and_then(timestamp_from_proto);
                if until.is_none_or(|until| until <= now) {
                    return Err(CommandError::FailedPrecondition(
                        "permission must end in the future".into(),
                    ));
                }
            }
            Kind::PermissionToViewRevoked(e) => {
                self.check_submitter(&e.attorney_id, today)?;
                if !self.has_permission_to_view(&e.organisation_ods, now) {
                    return Err(CommandError::FailedPrecondition(
                        "this organisation holds no active permission to view".into(),
                    ));
                }
            }
            Kind::OrganisationJoined(_)
            | Kind::OrganisationLeft(_)
            | Kind::RolePolicySet(_)
            | Kind::RegionPolicySet(_)
            | Kind::AccessReviewed(_) => {
                return Err(CommandError::FailedPrecondition(
                    "not a patient event".into(),
                ));
            }
        }
        Ok(())
    }

    /// A consent decision is made by the patient (empty `attorney_id`) or by an
    /// attorney whose registered power lets them decide on `today`.
    fn check_submitter(&self, attorney_id: &str, today: Date) -> Result<(), CommandError> {
        if attorney_id.is_empty() {
            return Ok(());
        }
        match self.attorneys.get(attorney_id) {
            Some(a) if a.may_decide_consent(today) => Ok(()),
            Some(_) => Err(CommandError::FailedPrecondition(
                "the attorney's power does not cover consent decisions today (needs an in-date health-and-welfare LPA or deputyship)".into(),
            )),
            None => Err(CommandError::FailedPrecondition("no power of attorney is registered for this attorney".into())),
        }
    }
}

#[cfg(test)]
#[path = "patient_tests.rs"]
mod tests;

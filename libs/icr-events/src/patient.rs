//! The patient aggregate: a fold of one patient's stream, and the rules that
//! decide whether a proposed change to it is accepted.
//!
//! The same fold serves the command side (load the stream, decide) and the
//! projections (current state for decisions), so the two cannot disagree.
//!
//! # Layout
//! Projections hold every patient in memory, so the state is laid out for
//! size: each fact keeps the log position of the event behind it (no
//! separate index of sources), sets are sorted boxed slices with no spare
//! room, ODS codes are interned ([`OdsCode`]), and the parts few patients
//! have (objections, attorneys, permissions, unreadable events) sit behind
//! one pointer. A patient with a registration and one care relationship is
//! 56 bytes plus one 48-byte allocation.

mod facts;
mod kinds;
mod ods;
mod sorted;
mod uncommon;

use icr_proto::pb::event_payload::Kind;
use icr_proto::pb::{EventPayload, ObjectionScope, Purpose};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::CommandError;
use sorted::Sorted;
use uncommon::Uncommon;

pub use facts::{Attorney, CareRelationship, Registration, Source};
pub use kinds::PatientEvent;
pub(crate) use kinds::with_patient_kinds;
pub use ods::OdsCode;

/// Current state of one patient, folded from their stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Unchecked")]
pub struct Patient {
    /// Version of the stream folded so far (0 = no events).
    pub version: u64,
    /// GP registration, once known with a readable date of birth.
    registration: Option<Registration>,
    /// Active care relationships, by the feed's relationship id.
    care_relationships: Sorted<CareRelationship>,
    /// The rest, if any part of it is present.
    uncommon: Option<Box<Uncommon>>,
}

/// A [`Patient`] as read from a snapshot, before the rules the fold keeps are
/// checked.
#[derive(Deserialize)]
struct Unchecked {
    version: u64,
    registration: Option<Registration>,
    care_relationships: Sorted<CareRelationship>,
    uncommon: Option<Box<Uncommon>>,
}

impl TryFrom<Unchecked> for Patient {
    type Error = &'static str;

    fn try_from(state: Unchecked) -> Result<Self, Self::Error> {
        if let Some(uncommon) = &state.uncommon {
            if uncommon.is_empty() {
                return Err("patient state holds an empty uncommon part");
            }
            if state.registration.is_some() && uncommon.unregistered_source.is_some() {
                return Err("patient state is both registered and unregistered");
            }
            // A fold counts every unreadable event: a record of none would
            // read as "nothing unreadable" and open what it should close.
            if uncommon.unreadable.is_some_and(|u| u.events == 0) {
                return Err("patient state records unreadable events but counts none");
            }
        }
        Ok(Self {
            version: state.version,
            registration: state.registration,
            care_relationships: state.care_relationships,
            uncommon: state.uncommon,
        })
    }
}

/// Hands each patient kind to its fold and decide rule (its
/// [`PatientEvent`] impl), from the patient rows of the list of kinds.
macro_rules! patient_kinds_dispatch {
    (patient { $($patient:ident: $version:literal,)* }) => {
        /// Folds `kind` into `patient` when it is a patient kind.
        fn apply_kind(kind: &Kind, patient: &mut Patient, position: u64) {
            match kind {
                $(Kind::$patient(e) => e.apply(patient, position),)*
                _ => {}
            }
        }

        /// Whether the patient kind `kind` may be appended to `patient`'s
        /// stream at `now`; any other kind is refused.
        fn decide_kind(kind: &Kind, patient: &Patient, now: Timestamp) -> Result<(), CommandError> {
            match kind {
                $(Kind::$patient(e) => e.decide(patient, now),)*
                _ => Err(CommandError::FailedPrecondition("not a patient event".into())),
            }
        }
    };
}

with_patient_kinds! { patient_kinds_dispatch! {} }

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
            self.change_uncommon(true, |u| u.note_unreadable(position));
            return;
        };
        apply_kind(kind, self, position);
    }

    /// Decides whether `proposed` may be appended to this patient's stream at
    /// `now`: the decide rule of its kind ([`PatientEvent::decide`]).
    /// Identifiers and enum values were validated at the boundary; this
    /// checks the change against current state.
    pub fn decide(&self, proposed: &EventPayload, now: Timestamp) -> Result<(), CommandError> {
        let Some(kind) = proposed.kind.as_ref() else {
            return Err(CommandError::FailedPrecondition("empty event".into()));
        };
        decide_kind(kind, self, now)
    }

    /// Changes the uncommon parts: made first when `adds` (the change may add
    /// a part), else changed only if present. Dropped once empty, so a
    /// patient whose objection was withdrawn is as small, and compares
    /// equal to, one who never objected.
    fn change_uncommon(&mut self, adds: bool, change: impl FnOnce(&mut Uncommon)) {
        if adds {
            change(self.uncommon.get_or_insert_default());
        } else if let Some(uncommon) = self.uncommon.as_deref_mut() {
            change(uncommon);
        }
        if self.uncommon.as_ref().is_some_and(|u| u.is_empty()) {
            self.uncommon = None;
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

    /// GP registration, once known with a readable date of birth.
    pub fn registration(&self) -> Option<&Registration> {
        self.registration.as_ref()
    }

    /// Active care relationships, in relationship-id order.
    pub fn care_relationships(&self) -> &[CareRelationship] {
        self.care_relationships.as_slice()
    }

    /// The active care relationship with `relationship_id`, if any.
    pub fn care_relationship(&self, relationship_id: &str) -> Option<&CareRelationship> {
        self.care_relationships.get(relationship_id)
    }

    /// Active objections by [`ObjectionScope`] number, in ascending order.
    pub fn objections(&self) -> impl Iterator<Item = i32> + '_ {
        let objections = self.uncommon.as_deref().map(|u| u.objections.as_slice());
        objections
            .unwrap_or_default()
            .iter()
            .map(|&(scope, _)| scope)
    }

    /// Whether an objection with scope number `scope` is active.
    pub fn has_objection(&self, scope: i32) -> bool {
        self.uncommon
            .as_deref()
            .is_some_and(|u| u.objections.get(&scope).is_some())
    }

    /// Registered attorneys, in attorney-id order.
    pub fn attorneys(&self) -> impl Iterator<Item = (&str, &Attorney)> {
        let attorneys = self.uncommon.as_deref().map(|u| u.attorneys.as_slice());
        let attorneys = attorneys.unwrap_or_default().iter();
        attorneys.map(|(id, attorney)| (id.as_str(), attorney))
    }

    /// The attorney registered as `attorney_id`, if any.
    pub fn attorney(&self, attorney_id: &str) -> Option<&Attorney> {
        let uncommon = self.uncommon.as_deref()?;
        uncommon.attorneys.get(attorney_id).map(|(_, a)| a)
    }

    /// Permissions to view, in ODS-code order: organisation and when the
    /// permission lapses (lapsed ones too, until revoked).
    pub fn permissions_to_view(&self) -> impl Iterator<Item = (&str, Timestamp)> {
        let grants = self
            .uncommon
            .as_deref()
            .map(|u| u.permissions_to_view.as_slice());
        let grants = grants.unwrap_or_default().iter();
        grants.filter_map(|(ods, grant)| Some((ods.as_str(), grant.until?)))
    }

    /// Number of events of a kind this build cannot read (written by a newer
    /// one). Any such event might be an objection, so the patient is treated
    /// as objecting until this build is upgraded.
    pub fn unreadable_events(&self) -> u64 {
        let unreadable = self.uncommon.as_deref().and_then(|u| u.unreadable);
        unreadable.map_or(0, |u| u.events)
    }

    /// Log position of the last registration event (also when its date of
    /// birth could not be read and the patient is unregistered).
    pub fn registration_source(&self) -> Option<u64> {
        let unregistered = || self.uncommon.as_deref()?.unregistered_source;
        self.registration
            .as_ref()
            .map(|r| r.position)
            .or_else(unregistered)
    }

    /// Log position of the last grant of a permission to view to
    /// `organisation_ods`, unless revoked since (also when it grants nothing
    /// because its end could not be read).
    pub fn permission_source(&self, organisation_ods: &str) -> Option<u64> {
        let grant = self
            .uncommon
            .as_deref()?
            .permissions_to_view
            .get(organisation_ods);
        grant.map(|(_, grant)| grant.position)
    }

    /// Log position of the event that established `source`, if it is current.
    pub fn source(&self, source: &Source) -> Option<u64> {
        let uncommon = self.uncommon.as_deref();
        match source {
            Source::Registration => self.registration_source(),
            Source::Objection(scope) => uncommon?.objections.get(scope).map(|&(_, p)| p),
            Source::CareRelationship(id) => self.care_relationship(id).map(|r| r.position),
            Source::PermissionToView(ods) => self.permission_source(ods),
            Source::Unreadable => uncommon?.unreadable.map(|u| u.first_position),
        }
    }

    /// Every current fact with the log position of the event behind it, in
    /// [`Source`] order.
    pub fn sources(&self) -> Vec<(Source, u64)> {
        let mut sources: Vec<_> = self
            .registration_source()
            .map(|p| (Source::Registration, p))
            .into_iter()
            .collect();
        let uncommon = self.uncommon.as_deref();
        let objections = uncommon.map(|u| u.objections.as_slice());
        let objections = objections.unwrap_or_default().iter();
        sources.extend(objections.map(|&(scope, p)| (Source::Objection(scope), p)));
        sources.extend(self.care_relationships().iter().map(|r| {
            let id = r.relationship_id.to_string();
            (Source::CareRelationship(id), r.position)
        }));
        let grants = uncommon.map(|u| u.permissions_to_view.as_slice());
        let grants = grants.unwrap_or_default().iter();
        sources.extend(grants.map(|(ods, g)| (Source::PermissionToView(ods.clone()), g.position)));
        sources.extend(
            self.source(&Source::Unreadable)
                .map(|p| (Source::Unreadable, p)),
        );
        sources
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
        self.unreadable_events() > 0 || self.objections().any(|s| objection_bars(s, scope))
    }

    /// Log positions of the events behind the objection that bars `purpose`:
    /// the barring objections in scope order, then the first unreadable event.
    pub fn objection_sources(&self, purpose: Purpose) -> Vec<u64> {
        let scope = match purpose {
            Purpose::DirectCare => ObjectionScope::DirectCare,
            Purpose::SecondaryUse => ObjectionScope::SecondaryUse,
            Purpose::Unspecified => ObjectionScope::Unspecified,
        };
        let Some(uncommon) = self.uncommon.as_deref() else {
            return Vec::new();
        };
        let objections = uncommon.objections.as_slice().iter();
        let barring = objections.filter(|&&(s, _)| objection_bars(s, scope));
        let unreadable = uncommon.unreadable.map(|u| u.first_position);
        barring.map(|&(_, p)| p).chain(unreadable).collect()
    }

    /// Whether `organisation_ods` has an active care relationship.
    pub fn has_care_relationship(&self, organisation_ods: &str) -> bool {
        self.care_relationships()
            .iter()
            .any(|r| r.organisation_ods == organisation_ods)
    }

    /// Whether `organisation_ods` holds a permission to view that has not lapsed at `now`.
    pub fn has_permission_to_view(&self, organisation_ods: &str, now: Timestamp) -> bool {
        let Some(uncommon) = self.uncommon.as_deref() else {
            return false;
        };
        let grant = uncommon.permissions_to_view.get(organisation_ods);
        grant
            .and_then(|(_, grant)| grant.until)
            .is_some_and(|until| now < until)
    }
}

#[cfg(test)]
#[path = "patient_tests.rs"]
mod tests;

#[cfg(test)]
mod layout_tests;

//! Each patient event kind in one place: its row in the list of kinds
//! (type name and schema version; its stream is the patient's), how it
//! folds into a [`Patient`], whether current state accepts it, and how it
//! reads in a summary.

use icr_proto::pb::{
    CareRelationshipEnded, CareRelationshipKind, CareRelationshipStarted, ObjectionRecorded,
    ObjectionScope, ObjectionWithdrawn, PatientRegistered, PermissionToViewGranted,
    PermissionToViewRevoked, PowerOfAttorneyKind, PowerOfAttorneyRegistered,
    PowerOfAttorneyRevoked,
};
use jiff::Timestamp;
use jiff::civil::Date;

use super::facts::{Attorney, CareRelationship, Grant, Registration};
use super::{OdsCode, Patient};
use crate::words::{Summary, by_attorney, enum_name, validity};
use crate::{CommandError, timestamp_from_proto, uk_date};

/// The patient event kinds, each with its schema version: the patient part
/// of the list of kinds in [`crate::event`], kept here beside their rules.
/// Hands the list to the macro `$then`, before the rest of its input.
macro_rules! with_patient_kinds {
    ($then:ident! { $($rest:tt)* }) => {
        $then! {
            patient {
                PatientRegistered: 1,
                ObjectionRecorded: 1,
                ObjectionWithdrawn: 1,
                PowerOfAttorneyRegistered: 1,
                PowerOfAttorneyRevoked: 1,
                CareRelationshipStarted: 1,
                CareRelationshipEnded: 1,
                PermissionToViewGranted: 1,
                PermissionToViewRevoked: 1,
            }
            $($rest)*
        }
    };
}
pub(crate) use with_patient_kinds;

/// An event of a patient's stream: its fold and its decide rule.
pub trait PatientEvent: Summary {
    /// Folds this event, found at log `position`, into `patient`. Never
    /// fails: an event in the log is a fact.
    fn apply(&self, patient: &mut Patient, position: u64);

    /// Whether `patient`'s current state accepts this event at `now`.
    /// Identifiers and enum values were validated at the boundary.
    fn decide(&self, patient: &Patient, now: Timestamp) -> Result<(), CommandError>;
}

impl PatientEvent for PatientRegistered {
    fn apply(&self, patient: &mut Patient, position: u64) {
        // A date that cannot be read leaves the patient unregistered,
        // hence out of every population: fail closed.
        patient.registration = self
            .date_of_birth
            .parse()
            .ok()
            .map(|date_of_birth| Registration {
                gp_practice_ods: OdsCode::new(&self.gp_practice_ods),
                date_of_birth,
                position,
            });
        let unregistered = patient.registration.is_none().then_some(position);
        patient.change_uncommon(unregistered.is_some(), |u| {
            u.unregistered_source = unregistered;
        });
    }

    fn decide(&self, patient: &Patient, _now: Timestamp) -> Result<(), CommandError> {
        let same = patient.registration().is_some_and(|r| {
            r.gp_practice_ods == self.gp_practice_ods.as_str()
                && r.date_of_birth.to_string() == self.date_of_birth
        });
        if same {
            return Err(CommandError::AlreadyExists(
                "patient is already registered with these details".into(),
            ));
        }
        Ok(())
    }
}

impl Summary for PatientRegistered {
    fn summary(&self) -> String {
        format!(
            "{} registered with practice {}, born {}",
            self.nhs_number, self.gp_practice_ods, self.date_of_birth
        )
    }
}

impl PatientEvent for ObjectionRecorded {
    fn apply(&self, patient: &mut Patient, position: u64) {
        patient.change_uncommon(true, |u| u.objections.put((self.scope, position)));
    }

    fn decide(&self, patient: &Patient, now: Timestamp) -> Result<(), CommandError> {
        patient.check_submitter(&self.attorney_id, uk_date(now))?;
        if patient.has_objection(self.scope) {
            return Err(CommandError::AlreadyExists(
                "an objection with this scope is already active".into(),
            ));
        }
        Ok(())
    }
}

impl Summary for ObjectionRecorded {
    fn summary(&self) -> String {
        format!(
            "{} objects to {}{}",
            self.nhs_number,
            enum_name::<ObjectionScope>(self.scope),
            by_attorney(&self.attorney_id)
        )
    }
}

impl PatientEvent for ObjectionWithdrawn {
    fn apply(&self, patient: &mut Patient, _position: u64) {
        patient.change_uncommon(false, |u| u.objections.remove(&self.scope));
    }

    fn decide(&self, patient: &Patient, now: Timestamp) -> Result<(), CommandError> {
        patient.check_submitter(&self.attorney_id, uk_date(now))?;
        if !patient.has_objection(self.scope) {
            return Err(CommandError::FailedPrecondition(
                "there is no active objection with this scope".into(),
            ));
        }
        Ok(())
    }
}

impl Summary for ObjectionWithdrawn {
    fn summary(&self) -> String {
        format!(
            "{} withdrew objection to {}{}",
            self.nhs_number,
            enum_name::<ObjectionScope>(self.scope),
            by_attorney(&self.attorney_id)
        )
    }
}

impl PatientEvent for PowerOfAttorneyRegistered {
    fn apply(&self, patient: &mut Patient, _position: u64) {
        let attorney = self.valid_from.parse().ok().map(|valid_from| Attorney {
            kind: self.kind(),
            verified_by: self.verified_by.clone(),
            valid_from,
            valid_until: self.valid_until.parse().ok(),
        });
        if let Some(attorney) = attorney {
            let id = self.attorney_id.clone();
            patient.change_uncommon(true, |u| u.attorneys.put((id, attorney)));
        }
    }

    fn decide(&self, patient: &Patient, _now: Timestamp) -> Result<(), CommandError> {
        if patient.attorney(&self.attorney_id).is_some() {
            return Err(CommandError::AlreadyExists(
                "this attorney is already registered; revoke it first".into(),
            ));
        }
        Ok(())
    }
}

impl Summary for PowerOfAttorneyRegistered {
    fn summary(&self) -> String {
        format!(
            "attorney {} for {}: {}, verified by {}, {}",
            self.attorney_id,
            self.nhs_number,
            enum_name::<PowerOfAttorneyKind>(self.kind),
            self.verified_by,
            validity(&self.valid_from, &self.valid_until)
        )
    }
}

impl PatientEvent for PowerOfAttorneyRevoked {
    fn apply(&self, patient: &mut Patient, _position: u64) {
        patient.change_uncommon(false, |u| u.attorneys.remove(&self.attorney_id));
    }

    fn decide(&self, patient: &Patient, _now: Timestamp) -> Result<(), CommandError> {
        if patient.attorney(&self.attorney_id).is_none() {
            return Err(CommandError::FailedPrecondition(
                "no power of attorney is registered for this attorney".into(),
            ));
        }
        Ok(())
    }
}

impl Summary for PowerOfAttorneyRevoked {
    fn summary(&self) -> String {
        format!(
            "attorney {} for {} revoked",
            self.attorney_id, self.nhs_number
        )
    }
}

impl PatientEvent for CareRelationshipStarted {
    fn apply(&self, patient: &mut Patient, position: u64) {
        patient.care_relationships.put(CareRelationship {
            relationship_id: self.relationship_id.as_str().into(),
            organisation_ods: OdsCode::new(&self.organisation_ods),
            kind: self.kind(),
            position,
        });
    }

    fn decide(&self, patient: &Patient, _now: Timestamp) -> Result<(), CommandError> {
        if patient.care_relationship(&self.relationship_id).is_some() {
            return Err(CommandError::AlreadyExists(
                "this care relationship is already active".into(),
            ));
        }
        Ok(())
    }
}

impl Summary for CareRelationshipStarted {
    fn summary(&self) -> String {
        format!(
            "{} started {} {} for {}",
            self.organisation_ods,
            enum_name::<CareRelationshipKind>(self.kind),
            self.relationship_id,
            self.nhs_number
        )
    }
}

impl PatientEvent for CareRelationshipEnded {
    fn apply(&self, patient: &mut Patient, _position: u64) {
        patient.care_relationships.remove(&self.relationship_id);
    }

    fn decide(&self, patient: &Patient, _now: Timestamp) -> Result<(), CommandError> {
        if patient.care_relationship(&self.relationship_id).is_none() {
            return Err(CommandError::FailedPrecondition(
                "no active care relationship has this id".into(),
            ));
        }
        Ok(())
    }
}

impl Summary for CareRelationshipEnded {
    fn summary(&self) -> String {
        format!(
            "care relationship {} for {} ended",
            self.relationship_id, self.nhs_number
        )
    }
}

impl PatientEvent for PermissionToViewGranted {
    fn apply(&self, patient: &mut Patient, position: u64) {
        // An end that cannot be read grants nothing; the grant still
        // replaces any earlier one and is the source of the outcome.
        let until = self.until.as_ref().and_then(timestamp_from_proto);
        let grant = (self.organisation_ods.clone(), Grant { until, position });
        patient.change_uncommon(true, |u| u.permissions_to_view.put(grant));
    }

    fn decide(&self, patient: &Patient, now: Timestamp) -> Result<(), CommandError> {
        patient.check_submitter(&self.attorney_id, uk_date(now))?;
        let until = self.until.as_ref().and_then(timestamp_from_proto);
        if until.is_none_or(|until| until <= now) {
            return Err(CommandError::FailedPrecondition(
                "permission must end in the future".into(),
            ));
        }
        Ok(())
    }
}

impl Summary for PermissionToViewGranted {
    fn summary(&self) -> String {
        format!(
            "{} lets {} view until {}",
            self.nhs_number,
            self.organisation_ods,
            self.until
                .as_ref()
                .map_or_else(|| "the end of the episode".to_owned(), ToString::to_string)
        )
    }
}

impl PatientEvent for PermissionToViewRevoked {
    fn apply(&self, patient: &mut Patient, _position: u64) {
        let ods = &self.organisation_ods;
        patient.change_uncommon(false, |u| u.permissions_to_view.remove(ods));
    }

    fn decide(&self, patient: &Patient, now: Timestamp) -> Result<(), CommandError> {
        patient.check_submitter(&self.attorney_id, uk_date(now))?;
        if !patient.has_permission_to_view(&self.organisation_ods, now) {
            return Err(CommandError::FailedPrecondition(
                "this organisation holds no active permission to view".into(),
            ));
        }
        Ok(())
    }
}

impl Summary for PermissionToViewRevoked {
    fn summary(&self) -> String {
        format!(
            "{} revoked {}'s permission to view",
            self.nhs_number, self.organisation_ods
        )
    }
}

impl Patient {
    /// A consent decision is made by the patient (empty `attorney_id`) or by an
    /// attorney whose registered power lets them decide on `today`.
    fn check_submitter(&self, attorney_id: &str, today: Date) -> Result<(), CommandError> {
        if attorney_id.is_empty() {
            return Ok(());
        }
        match self.attorney(attorney_id) {
            Some(a) if a.may_decide_consent(today) => Ok(()),
            Some(_) => Err(CommandError::FailedPrecondition(
                "the attorney's power does not cover consent decisions today (needs an in-date health-and-welfare LPA or deputyship)".into(),
            )),
            None => Err(CommandError::FailedPrecondition("no power of attorney is registered for this attorney".into())),
        }
    }
}

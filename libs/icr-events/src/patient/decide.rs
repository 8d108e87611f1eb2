//! Whether a proposed event may be appended to a patient's stream.

use icr_proto::pb::EventPayload;
use icr_proto::pb::event_payload::Kind;
use jiff::Timestamp;
use jiff::civil::Date;

use super::Patient;
use crate::{CommandError, timestamp_from_proto, uk_date};

impl Patient {
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
                let same = self.registration().is_some_and(|r| {
                    r.gp_practice_ods == e.gp_practice_ods.as_str()
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
                if self.has_objection(e.scope) {
                    return Err(CommandError::AlreadyExists(
                        "an objection with this scope is already active".into(),
                    ));
                }
            }
            Kind::ObjectionWithdrawn(e) => {
                self.check_submitter(&e.attorney_id, today)?;
                if !self.has_objection(e.scope) {
                    return Err(CommandError::FailedPrecondition(
                        "there is no active objection with this scope".into(),
                    ));
                }
            }
            Kind::PowerOfAttorneyRegistered(e) => {
                if self.attorney(&e.attorney_id).is_some() {
                    return Err(CommandError::AlreadyExists(
                        "this attorney is already registered; revoke it first".into(),
                    ));
                }
            }
            Kind::PowerOfAttorneyRevoked(e) => {
                if self.attorney(&e.attorney_id).is_none() {
                    return Err(CommandError::FailedPrecondition(
                        "no power of attorney is registered for this attorney".into(),
                    ));
                }
            }
            Kind::CareRelationshipStarted(e) => {
                if self.care_relationship(&e.relationship_id).is_some() {
                    return Err(CommandError::AlreadyExists(
                        "this care relationship is already active".into(),
                    ));
                }
            }
            Kind::CareRelationshipEnded(e) => {
                if self.care_relationship(&e.relationship_id).is_none() {
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
        match self.attorney(attorney_id) {
            Some(a) if a.may_decide_consent(today) => Ok(()),
            Some(_) => Err(CommandError::FailedPrecondition(
                "the attorney's power does not cover consent decisions today (needs an in-date health-and-welfare LPA or deputyship)".into(),
            )),
            None => Err(CommandError::FailedPrecondition("no power of attorney is registered for this attorney".into())),
        }
    }
}

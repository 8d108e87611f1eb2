//! Projections: the current state of every patient and of the policy, folded
//! from the event log in position order.
//!
//! [`Projections::apply`] is the only way state changes, and it refuses an
//! event out of order, so state always equals a replay of the log up to
//! [`Projections::position`]. [`Projections::facts`] turns an access request
//! into the [`Facts`] the decision engine needs; the engine, not this crate,
//! decides.
#![forbid(unsafe_code)]

mod facts;
mod policy;
mod snapshot;

use std::collections::HashMap;
use std::sync::Arc;

use icr_events::{NhsNumber, Patient};
use icr_proto::pb::RecordedEvent;

pub use facts::{FactQuery, RequestFacts, age_on};
pub use icr_decision::Facts;
pub use policy::PolicyState;
pub use snapshot::{Snapshot, SnapshotError};

/// Why an event could not be applied. The log is damaged or was read out of
/// order; the service must not serve decisions from it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProjectionError {
    /// The event's position is not the next one.
    #[error(
        "expected position {expected}, got {actual}: the log has a gap or was read out of order"
    )]
    OutOfOrder {
        /// Next position expected.
        expected: u64,
        /// Position received.
        actual: u64,
    },
}

/// Current state of every patient and of the policy.
///
/// Patients are shared on write: a clone (to write a snapshot) costs a
/// reference count per patient, and a patient changed while the clone is
/// alive is copied first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Projections {
    position: u64,
    patients: HashMap<NhsNumber, Arc<Patient>>,
    policy: PolicyState,
}

impl Projections {
    /// The last log position applied.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The policy state.
    pub fn policy(&self) -> &PolicyState {
        &self.policy
    }

    /// One patient's state, if any event concerned them.
    pub fn patient(&self, nhs_number: &NhsNumber) -> Option<&Patient> {
        self.patients.get(nhs_number).map(Arc::as_ref)
    }

    /// Number of patients known.
    pub fn patient_count(&self) -> usize {
        self.patients.len()
    }

    /// Folds the next event. Returns whether it changed the policy (and so
    /// the decision engine must be rebuilt).
    pub fn apply(&mut self, event: &RecordedEvent) -> Result<bool, ProjectionError> {
        let expected = self.position + 1;
        if event.position != expected {
            return Err(ProjectionError::OutOfOrder {
                expected,
                actual: event.position,
            });
        }
        self.position = event.position;
        let Some(payload) = event.payload.as_ref() else {
            return Ok(false);
        };
        if PolicyState::is_policy_event(payload) {
            self.policy.apply(event.position, payload);
            return Ok(true);
        }
        if let Some(nhs_number) = event
            .stream
            .strip_prefix("patient/")
            .and_then(|n| n.parse().ok())
        {
            let patient = self.patients.entry(nhs_number).or_default();
            Arc::make_mut(patient).apply(event.position, payload);
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests;

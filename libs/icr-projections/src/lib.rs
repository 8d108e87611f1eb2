//! Projections: the current state of every patient and of the policy, folded
//! from the event log in position order.
//!
//! [`Projections::apply`] is the only way state changes, and it refuses an
//! event out of order, so state always equals a replay of the log up to
//! [`Projections::position`]. [`Projections::facts`] looks up what an access
//! request concerns and computes the [`Facts`] the decision engine needs, as
//! `icr_decision` declares them; the engine, not this crate, decides.
#![forbid(unsafe_code)]

#[cfg(test)]
mod decode_props;
mod facts;
mod policy;
mod snapshot;

use std::collections::HashMap;
use std::sync::Arc;

use icr_events::{NhsNumber, Patient};
use icr_proto::pb::RecordedEvent;

pub use facts::RequestFacts;
pub use icr_decision::Facts;
pub use icr_decision::{FactQuery, age_on};
pub use policy::PolicyState;
pub use snapshot::{SNAPSHOT_FORMAT, Snapshot, SnapshotError};

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

/// Shards of the patient map.
const SHARDS: usize = 4096;

/// Patients, in [`SHARDS`] maps shared on write. A clone (to write a
/// snapshot) costs a reference count per shard. A shard changed while a
/// clone is alive is copied first, a reference count per patient in it
/// (about a thousand at 4 million patients), and a patient changed is
/// copied in turn: so taking a snapshot never stops the fold for long.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Patients(Vec<Arc<HashMap<NhsNumber, Arc<Patient>>>>);

impl Default for Patients {
    fn default() -> Self {
        Self(vec![Arc::default(); SHARDS])
    }
}

impl Patients {
    fn shard(nhs_number: &NhsNumber) -> usize {
        // Fibonacci hashing: the top bits of the product spread the
        // numbers, whose low digit is a check digit, evenly.
        let mixed = nhs_number.as_u64().wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (mixed >> (64 - SHARDS.trailing_zeros())) as usize
    }

    fn get(&self, nhs_number: &NhsNumber) -> Option<&Patient> {
        self.0[Self::shard(nhs_number)]
            .get(nhs_number)
            .map(Arc::as_ref)
    }

    fn get_mut(&mut self, nhs_number: NhsNumber) -> &mut Patient {
        let shard = Arc::make_mut(&mut self.0[Self::shard(&nhs_number)]);
        Arc::make_mut(shard.entry(nhs_number).or_default())
    }

    fn len(&self) -> usize {
        self.0.iter().map(|shard| shard.len()).sum()
    }

    fn iter(&self) -> impl Iterator<Item = (&NhsNumber, &Patient)> {
        self.0
            .iter()
            .flat_map(|shard| shard.iter().map(|(n, p)| (n, p.as_ref())))
    }

    /// Built from patients with distinct numbers; `None` on a repeat.
    fn from_unique(patients: impl IntoIterator<Item = (NhsNumber, Arc<Patient>)>) -> Option<Self> {
        let mut built = Self::default();
        for (nhs_number, patient) in patients {
            let shard = Arc::make_mut(&mut built.0[Self::shard(&nhs_number)]);
            if shard.insert(nhs_number, patient).is_some() {
                return None;
            }
        }
        Some(built)
    }
}

/// Current state of every patient and of the policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Projections {
    position: u64,
    patients: Patients,
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
        self.patients.get(nhs_number)
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
            self.patients
                .get_mut(nhs_number)
                .apply(event.position, payload);
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests;

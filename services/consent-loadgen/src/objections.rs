//! Patients lent to the `record-objection` target one at a time, so that
//! every write is one the service accepts: an objection for a patient who
//! has none, a withdrawal for one who has one. Two writes for one patient
//! are never in flight together, or one of them would be refused.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use icr_proto::pb::consent_service_client::ConsentServiceClient;
use icr_proto::pb::{GetConsentStatusRequest, ObjectionScope};
use tokio::sync::Semaphore;
use tonic::transport::Channel;

use crate::calling::request;

/// Status reads in flight while the states are read before a run.
const READS_IN_FLIGHT: usize = 32;

/// What the load generator knows of a patient's direct-care objection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Objection {
    /// An objection is active: the next write withdraws it.
    Active,
    /// None is active: the next write records one.
    None,
    /// Not known (at the start, or after a write whose outcome is unknown):
    /// ask the service before writing.
    Unknown,
}

/// A patient (an index into the run's patients) and their objection state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Patient {
    index: usize,
    objection: Objection,
}

/// The patients not currently lent, in the order they were given back.
#[derive(Debug)]
pub struct PatientPool {
    free: Semaphore,
    queue: Mutex<VecDeque<Patient>>,
}

impl PatientPool {
    /// A pool whose patient `i` starts in `states[i]`.
    pub fn with_states(states: Vec<Objection>) -> Self {
        let queue: VecDeque<_> = states
            .into_iter()
            .enumerate()
            .map(|(index, objection)| Patient { index, objection })
            .collect();
        Self {
            free: Semaphore::new(queue.len()),
            queue: Mutex::new(queue),
        }
    }

    /// Waits for a free patient and lends it. If the loan is dropped
    /// without [`Loan::settle`], the patient comes back with an unknown
    /// state: the write may or may not have been applied.
    pub async fn take(self: &Arc<Self>) -> Loan {
        let permit = self
            .free
            .acquire()
            .await
            .expect("the pool's semaphore is never closed");
        permit.forget();
        let patient = self
            .queue
            .lock()
            .expect("pool lock poisoned")
            .pop_front()
            .expect("a permit stands for a patient in the queue");
        Loan {
            pool: Arc::clone(self),
            index: patient.index,
            objection: patient.objection,
            settled: Objection::Unknown,
        }
    }

    fn give_back(&self, patient: Patient) {
        self.queue
            .lock()
            .expect("pool lock poisoned")
            .push_back(patient);
        self.free.add_permits(1);
    }
}

/// A patient lent by a [`PatientPool`]; given back when dropped.
#[derive(Debug)]
pub struct Loan {
    pool: Arc<PatientPool>,
    /// Which of the run's patients.
    pub index: usize,
    /// Their state when lent.
    pub objection: Objection,
    settled: Objection,
}

impl Loan {
    /// Records the patient's state after a write the service acknowledged.
    pub fn settle(&mut self, objection: Objection) {
        self.settled = objection;
    }
}

impl Drop for Loan {
    fn drop(&mut self) {
        self.pool.give_back(Patient {
            index: self.index,
            objection: self.settled,
        });
    }
}

/// Whether `nhs_number` has an active direct-care objection, asked of the
/// service.
pub async fn objection_of(
    client: &mut ConsentServiceClient<Channel>,
    nhs_number: &str,
) -> Result<Objection, tonic::Status> {
    let status = client
        .get_consent_status(request(GetConsentStatusRequest {
            nhs_number: nhs_number.to_owned(),
            min_log_position: 0,
        }))
        .await?
        .into_inner();
    let direct_care = ObjectionScope::DirectCare as i32;
    Ok(if status.active_objections.contains(&direct_care) {
        Objection::Active
    } else {
        Objection::None
    })
}

/// Every patient's objection state, read before a run so that the first
/// write for each patient is not slowed by a read. A read not answered
/// within `timeout` fails the whole.
pub async fn objection_states(
    client: ConsentServiceClient<Channel>,
    patients: &[String],
    timeout: Duration,
) -> Result<Vec<Objection>, tonic::Status> {
    let patients: Arc<[String]> = patients.into();
    let next = Arc::new(AtomicUsize::new(0));
    let mut readers = tokio::task::JoinSet::new();
    for _ in 0..READS_IN_FLIGHT.min(patients.len()) {
        let (patients, next, mut client) =
            (Arc::clone(&patients), Arc::clone(&next), client.clone());
        readers.spawn(async move {
            let mut read = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(nhs_number) = patients.get(i) else {
                    return Ok::<_, tonic::Status>(read);
                };
                let objection =
                    tokio::time::timeout(timeout, objection_of(&mut client, nhs_number))
                        .await
                        .map_err(|_| tonic::Status::deadline_exceeded("no answer in time"))??;
                read.push((i, objection));
            }
        });
    }
    let mut states = vec![Objection::Unknown; patients.len()];
    while let Some(read) = readers.join_next().await {
        let read = read.map_err(|e| tonic::Status::internal(format!("status reader: {e}")))?;
        for (i, objection) in read? {
            states[i] = objection;
        }
    }
    Ok(states)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lends_each_patient_once_and_keeps_what_was_settled() {
        let pool = Arc::new(PatientPool::with_states(vec![
            Objection::None,
            Objection::Active,
        ]));
        let mut first = pool.take().await;
        let second = pool.take().await;
        assert_eq!((first.index, first.objection), (0, Objection::None));
        assert_eq!((second.index, second.objection), (1, Objection::Active));
        // Both are lent: a third take waits.
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(20), pool.take());
        assert!(waiting.await.is_err());
        first.settle(Objection::Active);
        drop(first);
        // Dropped unsettled: the outcome of its write is not known.
        drop(second);
        let again = pool.take().await;
        assert_eq!((again.index, again.objection), (0, Objection::Active));
        let unknown = pool.take().await;
        assert_eq!((unknown.index, unknown.objection), (1, Objection::Unknown));
    }
}

//! Registers synthetic patients through the gRPC API, for runs without a
//! generated data directory: each patient is registered at a Coventry GP
//! practice as an adult, then admitted to the hospital (an inpatient episode
//! with RKB), so a clinician there is allowed to see their record.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use icr_events::NhsNumber;
use icr_proto::pb::care_context_service_client::CareContextServiceClient;
use icr_proto::pb::{
    CareRelationshipKind, RegisterPatientRequest, StartCareRelationshipRequest, WriteResult,
};
use tonic::transport::Channel;

use crate::calling::request;
use crate::driver::connect;

/// The GP practice seeded patients are registered with (Coventry).
pub const PRACTICE: &str = "M86003";
/// The hospital seeded patients are admitted to.
pub const HOSPITAL: &str = "RKB";
/// Seeded patients' date of birth: adults in every region.
pub const DATE_OF_BIRTH: &str = "1970-01-01";
/// The care feed's user named on seeding writes.
const FEED_USER: &str = "consent-loadgen-seed";
/// Longest wait for one patient's two writes.
const PATIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// What a seeding run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Seeded {
    /// Patients seeded.
    pub patients: u32,
    /// Writes that appended an event.
    pub appended: u64,
    /// Writes the service had already applied (an earlier seed of the
    /// same patients): their request ids are fixed, so nothing is repeated.
    pub replayed: u64,
}

/// Seeds patients `NhsNumber::synthetic(i)` for `i` in
/// `offset..offset + count`, with `concurrency` patients in progress.
/// Request ids are derived from the NHS number, so seeding twice appends
/// nothing the second time. Stops at the first refused write.
pub async fn seed(
    endpoint: &str,
    offset: u32,
    count: u32,
    concurrency: usize,
) -> anyhow::Result<Seeded> {
    if u64::from(offset) + u64::from(count) > u64::from(NhsNumber::SYNTHETIC) {
        bail!(
            "patients past the {} synthetic NHS numbers",
            NhsNumber::SYNTHETIC
        );
    }
    let channel = connect(endpoint, 1).await?.remove(0);
    let next = Arc::new(AtomicU32::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let mut client = CareContextServiceClient::new(channel.clone());
        let next = Arc::clone(&next);
        workers.spawn(async move {
            let mut seeded = Seeded::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    return Ok::<_, anyhow::Error>(seeded);
                }
                let nhs_number = NhsNumber::synthetic(offset + i).to_string();
                let admitted =
                    tokio::time::timeout(PATIENT_TIMEOUT, admit(&mut client, &nhs_number))
                        .await
                        .map_err(|_| anyhow::anyhow!("no answer in {PATIENT_TIMEOUT:?}"))
                        .and_then(|admitted| admitted)
                        .with_context(|| format!("seeding patient {nhs_number}"))?;
                for result in admitted {
                    if result.replayed {
                        seeded.replayed += 1;
                    } else {
                        seeded.appended += 1;
                    }
                }
                seeded.patients += 1;
            }
        });
    }
    let mut total = Seeded::default();
    while let Some(done) = workers.join_next().await {
        let seeded = done.context("a seeding task failed")??;
        total.patients += seeded.patients;
        total.appended += seeded.appended;
        total.replayed += seeded.replayed;
    }
    Ok(total)
}

/// Registers one patient and starts their inpatient episode.
async fn admit(
    client: &mut CareContextServiceClient<Channel>,
    nhs_number: &str,
) -> anyhow::Result<[WriteResult; 2]> {
    let registered = client
        .register_patient(request(RegisterPatientRequest {
            request_id: format!("seed-{nhs_number}-register"),
            nhs_number: nhs_number.to_owned(),
            gp_practice_ods: PRACTICE.into(),
            date_of_birth: DATE_OF_BIRTH.into(),
            user_id: FEED_USER.into(),
            expected_stream_version: None,
        }))
        .await?
        .into_inner()
        .result;
    let started = client
        .start_care_relationship(request(StartCareRelationshipRequest {
            request_id: format!("seed-{nhs_number}-admit-{HOSPITAL}"),
            nhs_number: nhs_number.to_owned(),
            relationship_id: format!("seed-{HOSPITAL}-inpatient"),
            organisation_ods: HOSPITAL.into(),
            kind: CareRelationshipKind::InpatientEpisode.into(),
            user_id: FEED_USER.into(),
            expected_stream_version: None,
        }))
        .await?
        .into_inner()
        .result;
    match (registered, started) {
        (Some(registered), Some(started)) => Ok([registered, started]),
        _ => bail!("a write was acknowledged without its result"),
    }
}

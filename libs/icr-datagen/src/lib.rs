//! Generated consent logs for benchmarks: a policy pack, then N patients
//! registered with the pack's GP practices, each in a care relationship with
//! a hospital (some with two), a few percent objecting to sharing, some with
//! a registered attorney, some children.
//!
//! Generation is deterministic: the same [`Profile`] gives the same events,
//! so a benchmark can be reproduced from its command line. Patient `i` has
//! NHS number [`NhsNumber::synthetic`]`(i)`.
#![forbid(unsafe_code)]

use anyhow::{Context, bail};
use icr_events::{NhsNumber, StreamId, event_type};
use icr_log::{AppendRequest, ExpectedVersion, PendingEvent, SledLog};
use icr_packs::PolicyFiles;
use icr_proto::pb::event_payload::Kind;
use icr_proto::pb::*;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// What to generate.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Number of patients.
    pub patients: u32,
    /// Policy pack (built in) whose organisations the patients use.
    pub pack: String,
    /// Hospital every patient's first care relationship is with (so a load
    /// generator asking as this organisation is mostly allowed).
    pub hospital: String,
    /// Percent of patients objecting to sharing for direct care.
    pub objecting_percent: u32,
    /// Percent of patients with a registered attorney.
    pub attorney_percent: u32,
    /// Percent of patients with a second care relationship.
    pub second_relationship_percent: u32,
    /// Percent of patients under 18.
    pub children_percent: u32,
    /// Seed of the pseudo-random choices.
    pub seed: u64,
}

impl Default for Profile {
    fn default() -> Self {
        Self {
            patients: 1000,
            pack: icr_packs::DEFAULT_PACK.to_owned(),
            hospital: "RKB".to_owned(),
            objecting_percent: 3,
            attorney_percent: 1,
            second_relationship_percent: 30,
            children_percent: 5,
            seed: 1,
        }
    }
}

/// The pack's policy events and the organisations patients are placed at.
#[derive(Debug, Clone)]
pub struct Population {
    profile: Profile,
    policy: Vec<EventPayload>,
    practices: Vec<String>,
    hospitals: Vec<String>,
}

/// An ODS code of the GP-practice form: a letter and five digits.
fn is_practice(ods: &str) -> bool {
    let b = ods.as_bytes();
    b.len() == 6 && b[0].is_ascii_uppercase() && b[1..].iter().all(u8::is_ascii_digit)
}

impl Population {
    /// Reads the pack and checks it has practices and the hospital.
    pub fn new(profile: Profile) -> anyhow::Result<Self> {
        let Some(files) = PolicyFiles::built_in_pack(&profile.pack) else {
            bail!("policy pack {} is not built in", profile.pack);
        };
        let policy = files.pack_events()?;
        let organisations: Vec<String> = policy
            .iter()
            .filter_map(|e| match &e.kind {
                Some(Kind::OrganisationJoined(o)) => Some(o.ods_code.clone()),
                _ => None,
            })
            .collect();
        let (practices, hospitals): (Vec<_>, Vec<_>) =
            organisations.into_iter().partition(|o| is_practice(o));
        if practices.is_empty() {
            bail!("policy pack {} has no GP practices", profile.pack);
        }
        if !hospitals.contains(&profile.hospital) {
            bail!(
                "{} is not an organisation of pack {}",
                profile.hospital,
                profile.pack
            );
        }
        Ok(Self {
            profile,
            policy,
            practices,
            hospitals,
        })
    }

    /// The events of patient `i`, in order.
    pub fn patient(&self, i: u32) -> Vec<EventPayload> {
        let p = &self.profile;
        let mut rng = SmallRng::seed_from_u64(p.seed ^ (u64::from(i) << 20));
        let nhs_number = NhsNumber::synthetic(i).to_string();
        let chance = |rng: &mut SmallRng, percent: u32| rng.random_range(0..100) < percent;
        let year = if chance(&mut rng, p.children_percent) {
            rng.random_range(2012..2024)
        } else {
            rng.random_range(1925..2006)
        };
        let date_of_birth = format!(
            "{year}-{:02}-{:02}",
            rng.random_range(1..=12),
            rng.random_range(1..=28)
        );
        let practice = &self.practices[i as usize % self.practices.len()];
        let mut events = vec![
            Kind::PatientRegistered(PatientRegistered {
                nhs_number: nhs_number.clone(),
                gp_practice_ods: practice.clone(),
                date_of_birth,
            }),
            relationship(
                &nhs_number,
                1,
                &p.hospital,
                CareRelationshipKind::InpatientEpisode,
            ),
        ];
        if chance(&mut rng, p.second_relationship_percent) {
            let other = &self.hospitals[rng.random_range(0..self.hospitals.len())];
            let kind = CareRelationshipKind::OutpatientEpisode;
            events.push(relationship(&nhs_number, 2, other, kind));
        }
        if chance(&mut rng, p.attorney_percent) {
            events.push(Kind::PowerOfAttorneyRegistered(PowerOfAttorneyRegistered {
                nhs_number: nhs_number.clone(),
                attorney_id: format!("lpa-{i}"),
                kind: PowerOfAttorneyKind::HealthAndWelfareLpa.into(),
                verified_by: "pals-officer".into(),
                valid_from: "2024-01-01".into(),
                valid_until: String::new(),
            }));
        }
        if chance(&mut rng, p.objecting_percent) {
            events.push(Kind::ObjectionRecorded(ObjectionRecorded {
                nhs_number,
                scope: ObjectionScope::DirectCare.into(),
                attorney_id: String::new(),
            }));
        }
        events
            .into_iter()
            .map(|kind| EventPayload { kind: Some(kind) })
            .collect()
    }

    /// Every event: the pack's policy, then each patient's, with its stream.
    pub fn events(&self) -> impl Iterator<Item = (String, EventPayload)> + '_ {
        let policy = self.policy.iter().cloned();
        let patients = (0..self.profile.patients).flat_map(|i| self.patient(i));
        policy.chain(patients).filter_map(|payload| {
            let stream = StreamId::of(&payload)?.to_string();
            Some((stream, payload))
        })
    }

    /// Every event as the log would record it (positions from 1, stream
    /// versions, a fixed time), for folding into projections in memory.
    pub fn recorded(&self) -> impl Iterator<Item = RecordedEvent> + '_ {
        let mut versions = std::collections::HashMap::<String, u64>::new();
        self.events()
            .zip(1..)
            .map(move |((stream, payload), position)| {
                let version = versions.entry(stream.clone()).or_default();
                *version += 1;
                let (event_type, schema_version) = event_type(&payload).unwrap_or(("", 1));
                RecordedEvent {
                    position,
                    stream_version: *version,
                    stream,
                    event_type: event_type.to_owned(),
                    schema_version,
                    payload: Some(payload),
                    ..Default::default()
                }
            })
    }

    /// Writes every event to `log`, in batches sharing one flush each, with
    /// request ids `datagen/<seed>/<n>` (so a repeat appends nothing new).
    /// Returns the last position.
    pub async fn write(&self, log: &SledLog, batch: usize) -> anyhow::Result<u64> {
        let seed = self.profile.seed;
        let mut pending = Vec::with_capacity(batch);
        let mut last = 0;
        for (n, (stream, payload)) in self.events().enumerate() {
            let (event_type, schema_version) =
                event_type(&payload).context("generated an empty event")?;
            pending.push(AppendRequest {
                stream,
                expected_version: ExpectedVersion::Any,
                request_id: format!("datagen/{seed}/{n}"),
                fingerprint: Vec::new(),
                events: vec![PendingEvent {
                    actor: Actor {
                        calling_system: "icr-datagen".into(),
                        user_id: "datagen".into(),
                        on_behalf_of: String::new(),
                    },
                    event_type: event_type.to_owned(),
                    schema_version,
                    payload,
                }],
            });
            if pending.len() == batch {
                last = log.import(std::mem::take(&mut pending)).await?;
            }
        }
        if !pending.is_empty() {
            last = log.import(pending).await?;
        }
        Ok(last)
    }
}

fn relationship(nhs: &str, n: u32, ods: &str, kind: CareRelationshipKind) -> Kind {
    Kind::CareRelationshipStarted(CareRelationshipStarted {
        nhs_number: nhs.to_owned(),
        relationship_id: format!("ep-{nhs}-{n}"),
        organisation_ods: ods.to_owned(),
        kind: kind.into(),
    })
}

#[cfg(test)]
mod tests;

//! Crash safety: the real binary is killed with SIGKILL at a random moment
//! while eight clients write, restarted on the same directory, and checked.
//!
//! After every kill: the directory verifies (both hash chains and every
//! index, [`icr_log::SledLog::verify`]); every acknowledged write is in the
//! log exactly once, with the event id and position it was acknowledged
//! with; a write in flight at the kill is there once or not at all, and a
//! retry with its request id returns the stored event or, if there is none,
//! appends it once; positions run gapless from 1; and every patient's
//! `GetConsentStatus` equals a fold of the log read back. At the end the
//! projection snapshots are deleted and a replay from the log alone must
//! give the same answers.
//!
//! `ICR_CRASH_ROUNDS` sets the number of kills (default 3).

mod common;

use std::hash::BuildHasher;
use std::path::Path;
use std::time::Duration;

use common::{
    Sent, Service, all_events, assert_status_matches, assert_stored_as_acknowledged, by_request,
    objection, patients, withdrawal,
};
use icr_proto::pb::{GetConsentStatusRequest, ObjectionScope, WriteResult};
use tonic::Code;

const WRITERS: usize = 8;
/// Patients each writer owns: a writer alternates objection and withdrawal
/// on its own patients, so every refusal would be a bug, not a race.
const PATIENTS_EACH: usize = 2;
/// Small, so that snapshots are written (and restarted from) every round.
const SNAPSHOT_ARGS: &[&str] = &["--snapshot-every-events", "40"];

/// What the clients saw in one round.
#[derive(Default)]
struct Round {
    /// Acknowledged writes with their results.
    acknowledged: Vec<(Sent, WriteResult)>,
    /// Writes with no answer, or an error that leaves the outcome unknown.
    in_flight: Vec<Sent>,
}

#[derive(Default)]
struct Totals {
    acknowledged: usize,
    in_flight: usize,
    in_flight_found: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_sigkill() {
    let rounds: usize = std::env::var("ICR_CRASH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let patients = patients((WRITERS * PATIENTS_EACH) as u32);
    let mut service = Service::start(&data, SNAPSHOT_ARGS);
    let mut totals = Totals::default();
    for round in 0..rounds {
        let writers = spawn_writers(&service, &patients, round).await;
        tokio::time::sleep(random_delay(round)).await;
        service.kill();
        let mut seen = Round::default();
        for writer in writers {
            let round = writer.await.expect("writer");
            seen.acknowledged.extend(round.acknowledged);
            seen.in_flight.extend(round.in_flight);
        }
        // Otherwise a service refusing every write would pass.
        assert!(
            !seen.acknowledged.is_empty(),
            "round {round}: no write was acknowledged before the kill"
        );
        verify_directory(&data).await;
        service = Service::start(&data, SNAPSHOT_ARGS);
        check_round(&service, &patients, &seen, &mut totals).await;
    }
    service.kill();
    replay_without_snapshots(&data, &patients).await;
    println!(
        "crash: {rounds} rounds, {} acknowledged writes, 0 lost; {} in flight at a kill, \
         {} of them found stored and none twice",
        totals.acknowledged, totals.in_flight, totals.in_flight_found
    );
}

/// A delay between 50 ms and 1.5 s, different each round and each run.
fn random_delay(round: usize) -> Duration {
    let random = std::collections::hash_map::RandomState::new().hash_one(round);
    Duration::from_millis(50 + random % 1450)
}

/// Starts the writers; each finds its patients' state, then alternates
/// objection and withdrawal until the service stops answering.
async fn spawn_writers(
    service: &Service,
    patients: &[String],
    round: usize,
) -> Vec<tokio::task::JoinHandle<Round>> {
    let mut writers = Vec::new();
    for (writer, own) in patients.chunks(PATIENTS_EACH).enumerate() {
        let mut consent = service.consent();
        let mut objecting = Vec::new();
        for nhs in own {
            let status = consent
                .get_consent_status(GetConsentStatusRequest {
                    nhs_number: nhs.clone(),
                    min_log_position: 0,
                })
                .await
                .expect("status")
                .into_inner();
            let direct = ObjectionScope::DirectCare as i32;
            objecting.push(status.active_objections.contains(&direct));
        }
        let own = own.to_vec();
        writers.push(tokio::spawn(async move {
            let mut seen = Round::default();
            for n in 0.. {
                let i = n % own.len();
                let sent = Sent {
                    request_id: format!("crash-r{round}-w{writer}-{n}"),
                    nhs: own[i].clone(),
                    objects: !objecting[i],
                };
                match send(&mut consent, &sent).await {
                    Ok(result) => {
                        objecting[i] = sent.objects;
                        seen.acknowledged.push((sent, result));
                    }
                    Err(status) => {
                        assert!(
                            !matches!(
                                status.code(),
                                Code::AlreadyExists
                                    | Code::FailedPrecondition
                                    | Code::InvalidArgument
                            ),
                            "a write was refused: {status:?}"
                        );
                        seen.in_flight.push(sent);
                        return seen;
                    }
                }
            }
            seen
        }));
    }
    writers
}

/// Sends one write.
async fn send(
    consent: &mut icr_proto::pb::consent_service_client::ConsentServiceClient<common::Intercepted>,
    sent: &Sent,
) -> Result<WriteResult, tonic::Status> {
    let result = if sent.objects {
        let request = objection(&sent.request_id, &sent.nhs);
        consent.record_objection(request).await?.into_inner().result
    } else {
        let request = withdrawal(&sent.request_id, &sent.nhs);
        consent
            .withdraw_objection(request)
            .await?
            .into_inner()
            .result
    };
    Ok(result.expect("a write result"))
}

/// Verifies both chains and every index of the stopped service's directory.
async fn verify_directory(data: &Path) {
    let data = data.to_owned();
    tokio::task::spawn_blocking(move || {
        let log = icr_log::SledLog::open(&data).expect("open the killed service's log");
        match log.verify(None).expect("read the log") {
            Ok(verified) => assert_eq!(verified.events, log.head(), "{verified}"),
            Err(broken) => panic!("the log does not verify after a kill: {broken:?}"),
        }
    })
    .await
    .expect("verify");
}

/// The events of `events` by request id.
/// The checks after a restart (see the crate doc), then the retries.
async fn check_round(service: &Service, patients: &[String], seen: &Round, totals: &mut Totals) {
    let mut audit = service.audit();
    let mut consent = service.consent();
    let events = all_events(&mut audit).await;
    let acknowledged = seen.acknowledged.iter();
    assert_stored_as_acknowledged(
        &events,
        acknowledged.map(|(s, r)| (s.request_id.as_str(), r)),
    );
    for (_, result) in &seen.acknowledged {
        assert!(!result.replayed, "a first write is not a replay");
    }
    let found = by_request(&events);
    for (request_id, stored) in &found {
        if request_id.starts_with("crash-") {
            assert_eq!(stored.len(), 1, "request {request_id} stored once");
        }
    }
    assert_status_matches(&mut consent, patients, &events, "after a kill").await;

    for sent in &seen.in_flight {
        let stored = found.get(sent.request_id.as_str()).map(|s| s[0].clone());
        let retried = send(&mut consent, sent).await.expect("retry");
        match &stored {
            Some(event) => {
                totals.in_flight_found += 1;
                assert!(
                    retried.replayed,
                    "a retry of stored {} replays",
                    sent.request_id
                );
                assert_eq!(
                    (&retried.event_id, retried.log_position),
                    (&event.id, event.position)
                );
            }
            None => assert!(!retried.replayed, "nothing stored to replay"),
        }
    }
    let after = all_events(&mut audit).await;
    let found = by_request(&after);
    for sent in &seen.in_flight {
        let stored = found.get(sent.request_id.as_str()).map_or(0, Vec::len);
        assert_eq!(stored, 1, "retried {} stored exactly once", sent.request_id);
    }
    assert_status_matches(&mut consent, patients, &after, "after the retries").await;
    totals.acknowledged += seen.acknowledged.len();
    totals.in_flight += seen.in_flight.len();
}

/// Deletes the projection snapshots and checks that a replay of the log
/// alone answers as the log folds.
async fn replay_without_snapshots(data: &Path, patients: &[String]) {
    let snapshots = data.join("snapshots");
    let written = std::fs::read_dir(&snapshots).map_or(0, Iterator::count);
    assert!(written > 0, "the rounds wrote projection snapshots");
    std::fs::remove_dir_all(&snapshots).expect("remove snapshots");
    let service = Service::start(data, &["--snapshot-every-events", "0"]);
    let events = all_events(&mut service.audit()).await;
    assert_status_matches(&mut service.consent(), patients, &events, "replayed").await;
    service.kill();
}

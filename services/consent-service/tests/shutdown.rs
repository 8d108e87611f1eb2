//! Graceful shutdown under load: the real binary gets SIGTERM while writers
//! record and withdraw objections and record viewers ask for decisions.
//!
//! Then: the process exits with status 0; every request answered before or
//! during the shutdown got a right answer (a write its result, a decision
//! the same outcome as before the load), and every failure is `Unavailable`
//! or a transport error (the service going away), never a refusal and never
//! before the signal; the stopped service's directory verifies; and after a
//! restart on the same directory every acknowledged write is in the log
//! exactly once, with the event id and position it was acknowledged with.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::{
    Intercepted, Sent, Service, all_events, assert_status_matches, assert_stored_as_acknowledged,
    by_request, clinician_asks, objection, withdrawal,
};
use icr_proto::pb::access_decision_service_client::AccessDecisionServiceClient;
use icr_proto::pb::consent_service_client::ConsentServiceClient;
use icr_proto::pb::{RecordSection, WriteResult};
use tonic::{Code, Status};

const WRITERS: usize = 6;
/// Patients each writer owns, so that no write is refused by a race.
const PATIENTS_EACH: usize = 2;
const VIEWERS: usize = 3;
/// Writes acknowledged before the signal is sent: the load is running.
const ACKNOWLEDGED_BEFORE_SIGNAL: usize = 60;
/// How long the service may take to exit: a guard against a hang, not a
/// measurement.
const EXIT_GIVE_UP: Duration = Duration::from_secs(60);
/// The patient the record viewers ask about; no writer touches it.
const VIEWED: &str = "9434765919";

/// What one writer saw.
#[derive(Default)]
struct Written {
    acknowledged: Vec<(Sent, WriteResult)>,
    /// Sent before the signal and acknowledged after it: in flight at it.
    in_flight_acknowledged: usize,
    /// The write that failed as the service went away, if any.
    failed: Option<(Sent, Status)>,
}

/// Whether the signal has been sent, and how many writes were acknowledged.
#[derive(Default)]
struct Load {
    signalled: AtomicBool,
    acknowledged: AtomicUsize,
}

impl Load {
    /// Checks a failure: only the service going away, and only after the
    /// signal.
    fn check_failure(&self, what: &str, status: &Status) {
        assert!(
            self.signalled.load(Ordering::SeqCst),
            "{what} failed before the signal: {status:?}"
        );
        // The client's own transport failing is reported under other codes:
        // `Cancelled` for a request not sent because the connection was
        // closing, `Internal` ("h2 protocol error") for a stream the server
        // refused with its graceful GOAWAY. Neither was served.
        let transport = std::error::Error::source(status)
            .is_some_and(|source| source.is::<tonic::transport::Error>());
        assert!(
            status.code() == Code::Unavailable || transport,
            "{what} failed with other than Unavailable or a transport error during \
             shutdown: {status:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_under_load_finishes_in_flight_requests_and_loses_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let service = Service::start(&data, &[]);
    let output = Arc::clone(&service.output);
    let expected = admit_and_decide(&service).await;
    let load = Arc::new(Load::default());
    let patients = common::patients((WRITERS * PATIENTS_EACH) as u32);
    let writers: Vec<_> = patients
        .chunks(PATIENTS_EACH)
        .enumerate()
        .map(|(n, own)| tokio::spawn(write(service.consent(), n, own.to_vec(), load.clone())))
        .collect();
    let viewers: Vec<_> = (0..VIEWERS)
        .map(|_| tokio::spawn(view(service.decisions(), expected, load.clone())))
        .collect();
    while load.acknowledged.load(Ordering::SeqCst) < ACKNOWLEDGED_BEFORE_SIGNAL {
        assert!(
            writers.iter().all(|w| !w.is_finished()),
            "a writer stopped before the signal"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    load.signalled.store(true, Ordering::SeqCst);
    service.terminate();
    let exited = tokio::task::spawn_blocking(move || service.wait_at_most(EXIT_GIVE_UP));

    let mut written = Vec::new();
    for writer in writers {
        written.push(writer.await.expect("writer"));
    }
    let mut decided = 0;
    for viewer in viewers {
        decided += viewer.await.expect("viewer");
    }
    let status = exited.await.expect("wait for the service");
    let printed = output.lock().expect("output").join("\n");
    assert!(
        status.success(),
        "the service exited with {status} after SIGTERM:\n{printed}"
    );

    verify_directory(&data).await;
    let service = Service::start(&data, &[]);
    let (acknowledged, failed_found) = check_log(&service, &patients, &written).await;
    let in_flight: usize = written.iter().map(|w| w.in_flight_acknowledged).sum();
    let failed: Vec<Code> = written
        .iter()
        .filter_map(|w| w.failed.as_ref().map(|(_, status)| status.code()))
        .collect();
    // Stopping an idle service is clean too.
    service.terminate();
    assert!(service.wait_at_most(EXIT_GIVE_UP).success(), "idle stop");
    println!(
        "shutdown: {acknowledged} writes acknowledged, {in_flight} of them in flight at the \
         signal, all stored once; {decided} decisions, all as before the load; writes \
         failed with {failed:?}, {failed_found} of them found stored"
    );
}

/// Registers [`VIEWED`] with a care relationship at the hospital and
/// returns the decision a clinician there gets, asked before any load.
async fn admit_and_decide(service: &Service) -> i32 {
    common::admit(&mut service.care(), VIEWED).await;
    let outcome = decide(&mut service.decisions())
        .await
        .expect("a decision before the load");
    assert_eq!(
        outcome,
        icr_proto::pb::Outcome::Allow as i32,
        "a clinician in a care relationship is allowed"
    );
    outcome
}

/// A clinician at the hospital asks to see the patient's medications.
async fn decide(decisions: &mut AccessDecisionServiceClient<Intercepted>) -> Result<i32, Status> {
    let answer = decisions
        .authorize(clinician_asks(VIEWED, RecordSection::Medications))
        .await?;
    Ok(answer.into_inner().decision.expect("a decision").outcome)
}

/// Asks until the service goes away; returns how many answers it got,
/// each checked against `expected`.
async fn view(
    mut decisions: AccessDecisionServiceClient<Intercepted>,
    expected: i32,
    load: Arc<Load>,
) -> usize {
    for answered in 0.. {
        match decide(&mut decisions).await {
            Ok(outcome) => assert_eq!(outcome, expected, "a decision changed under shutdown"),
            Err(status) => {
                load.check_failure("a decision", &status);
                return answered;
            }
        }
    }
    unreachable!()
}

/// Alternates objection and withdrawal on `own` patients until the service
/// goes away.
async fn write(
    mut consent: ConsentServiceClient<Intercepted>,
    writer: usize,
    own: Vec<String>,
    load: Arc<Load>,
) -> Written {
    let mut objecting = vec![false; own.len()];
    let mut written = Written::default();
    for n in 0.. {
        let i = n % own.len();
        let sent = Sent {
            request_id: format!("shutdown-w{writer}-{n}"),
            nhs: own[i].clone(),
            objects: !objecting[i],
        };
        let sent_before = !load.signalled.load(Ordering::SeqCst);
        match send(&mut consent, &sent).await {
            Ok(result) => {
                objecting[i] = sent.objects;
                let answered_after = load.signalled.load(Ordering::SeqCst);
                written.in_flight_acknowledged += usize::from(sent_before && answered_after);
                written.acknowledged.push((sent, result));
                load.acknowledged.fetch_add(1, Ordering::SeqCst);
            }
            Err(status) => {
                load.check_failure(&format!("write {}", sent.request_id), &status);
                written.failed = Some((sent, status));
                return written;
            }
        }
    }
    unreachable!()
}

/// Sends one write.
async fn send(
    consent: &mut ConsentServiceClient<Intercepted>,
    sent: &Sent,
) -> Result<WriteResult, Status> {
    let result = if sent.objects {
        let request = objection(&sent.request_id, &sent.nhs);
        consent.record_objection(request).await?.into_inner().result
    } else {
        let request = withdrawal(&sent.request_id, &sent.nhs);
        let response = consent.withdraw_objection(request).await?;
        response.into_inner().result
    };
    Ok(result.expect("a write result"))
}

/// Verifies both hash chains and every index of the stopped service's
/// directory.
async fn verify_directory(data: &std::path::Path) {
    let data = data.to_owned();
    tokio::task::spawn_blocking(move || {
        let log = icr_log::SledLog::open(&data).expect("open the stopped service's log");
        match log.verify(None).expect("read the log") {
            Ok(verified) => assert_eq!(verified.events, log.head(), "{verified}"),
            Err(broken) => panic!("the log does not verify after SIGTERM: {broken:?}"),
        }
    })
    .await
    .expect("verify");
}

/// Checks the restarted service's log against what the writers saw;
/// returns how many writes were acknowledged and how many of the failed
/// ones were stored anyway (at most once each).
async fn check_log(service: &Service, patients: &[String], written: &[Written]) -> (usize, usize) {
    let events = all_events(&mut service.audit()).await;
    let acknowledged: Vec<_> = written.iter().flat_map(|w| &w.acknowledged).collect();
    assert_stored_as_acknowledged(
        &events,
        acknowledged.iter().map(|(s, r)| (s.request_id.as_str(), r)),
    );
    let acknowledged = acknowledged.len();
    let found = by_request(&events);
    assert!(acknowledged >= ACKNOWLEDGED_BEFORE_SIGNAL);
    let mut failed_found = 0;
    for (sent, _) in written.iter().filter_map(|w| w.failed.as_ref()) {
        let stored = found.get(sent.request_id.as_str()).map_or(0, Vec::len);
        assert!(
            stored <= 1,
            "failed {} stored at most once",
            sent.request_id
        );
        failed_found += stored;
    }
    assert_status_matches(&mut service.consent(), patients, &events, "after SIGTERM").await;
    (acknowledged, failed_found)
}

/// A SIGTERM sent the moment the `serving` line appears drains and exits 0:
/// the signal handlers are in place before that line is printed, not at the
/// server's first poll of its shutdown future. A few starts, as the gap it
/// guards against was a race.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_on_the_serving_line_is_a_graceful_stop() {
    for _ in 0..5 {
        let data = tempfile::tempdir().expect("tempdir");
        let service = Service::start(data.path(), &[]);
        service.terminate();
        let printed = service.printed();
        let status = tokio::task::spawn_blocking(move || service.wait_at_most(EXIT_GIVE_UP))
            .await
            .expect("wait for the service");
        assert!(
            status.success(),
            "the service exited with {status} after SIGTERM:\n{printed}"
        );
    }
}

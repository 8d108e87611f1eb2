//! Projection snapshots through the real service: a restart from a snapshot
//! replays only the tail yet answers as before; a snapshot that is damaged,
//! from another log, or not signed by the service's key is skipped; and a
//! log that fails verification stops decisions even when the snapshot let
//! the service start before verification finished.

use std::path::{Path, PathBuf};
use std::time::Duration;

use consent_service::{Options, PolicyFiles, SigningKey};
use icr_integration_tests::{OTHER_PATIENT, PATIENT, Server, allowed, clinician};
use icr_log::ed25519_dalek::Signer;
use icr_log::{EventLog, SledLog, TamperEvidence};
use icr_projections::Projections;
use icr_proto::pb::event_payload::Kind;
use icr_proto::pb::{
    EventPayload, GetConsentStatusRequest, ObjectionRecorded, ObjectionScope, RecordSection,
    RecordedEvent,
};

/// Events between snapshots in these tests: any new event makes one at the
/// writer's next look (about a second).
const EVERY: u64 = 1;

fn options(data_dir: &Path, snapshot_every: u64, key: Option<SigningKey>) -> Options {
    let mut options = Options::new(data_dir, PolicyFiles::built_in());
    options.snapshot_every = snapshot_every;
    options.signing_key = key;
    options
}

fn snapshot_files(data_dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(data_dir.join("snapshots"))
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "snap"));
    files.sort();
    files
}

/// Waits (up to 20 s) for a snapshot at or past `position`.
async fn snapshot_at(data_dir: &Path, position: u64) -> PathBuf {
    for _ in 0..200 {
        let newest = snapshot_files(data_dir).pop();
        let at = |p: &PathBuf| {
            let name = p.file_stem()?.to_str()?.strip_prefix("projections-")?;
            name.parse::<u64>().ok()
        };
        if let Some(file) = newest.filter(|f| at(f).is_some_and(|at| at >= position)) {
            return file;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "no snapshot at position {position} in {}",
        data_dir.display()
    );
}

/// Runs a service that snapshots, admits two patients, waits for a
/// snapshot, then records an objection for the first (the tail after it).
/// Returns the snapshot file.
async fn history(data_dir: &Path, key: Option<SigningKey>) -> PathBuf {
    let mut server = Server::start_options(options(data_dir, EVERY, key.clone())).await;
    server.admit(OTHER_PATIENT).await;
    let position = server.admit(PATIENT).await;
    let snapshot = snapshot_at(data_dir, position).await;
    server.stop().await.expect("clean stop");
    // Written by a service that takes no snapshots, so it stays a tail.
    let mut server = Server::start_options(options(data_dir, 0, key)).await;
    server
        .consent
        .record_objection(Server::objection(PATIENT))
        .await
        .expect("objection");
    server.stop().await.expect("clean stop");
    snapshot
}

/// What a viewer and a patient-facing service see of both patients.
async fn answers(server: &mut Server) -> (bool, bool, Vec<i32>) {
    let objecting = server
        .authorize(PATIENT, clinician(), RecordSection::Medications)
        .await;
    let other = server
        .authorize(OTHER_PATIENT, clinician(), RecordSection::Medications)
        .await;
    let status = server
        .consent
        .get_consent_status(GetConsentStatusRequest {
            nhs_number: PATIENT.into(),
            ..Default::default()
        })
        .await
        .expect("status")
        .into_inner();
    (
        allowed(&objecting),
        allowed(&other),
        status.active_objections,
    )
}

#[tokio::test]
async fn a_restart_from_a_snapshot_answers_as_the_log_does() {
    let dir = tempfile::tempdir().expect("tempdir");
    history(dir.path(), None).await;
    let mut server = Server::start_options(options(dir.path(), 0, None)).await;
    let (objecting, other, objections) = answers(&mut server).await;
    assert!(
        !objecting,
        "the objection after the snapshot must be replayed"
    );
    assert!(
        other,
        "the patient in the snapshot keeps their care relationship"
    );
    assert_eq!(objections.len(), 1);
    // Writes go on from the snapshot's state: the same objection again is a conflict.
    let again = server
        .consent
        .record_objection(Server::objection(PATIENT))
        .await;
    assert_eq!(
        again.expect_err("conflict").code(),
        tonic::Code::AlreadyExists
    );
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn a_damaged_snapshot_or_one_from_another_log_is_skipped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (first, second) = (dir.path().join("first"), dir.path().join("second"));
    let snapshot = history(&first, None).await;
    history(&second, None).await;
    // The second log's snapshots are replaced by the first's: same
    // positions, another log.
    for file in snapshot_files(&second) {
        std::fs::remove_file(file).expect("remove");
    }
    let name = snapshot.file_name().expect("name");
    std::fs::copy(&snapshot, second.join("snapshots").join(name)).expect("copy");
    // The first's newest snapshot is damaged in the middle.
    for file in snapshot_files(&first) {
        let mut bytes = std::fs::read(&file).expect("read");
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x55;
        std::fs::write(&file, bytes).expect("write");
    }
    for data_dir in [&first, &second] {
        let mut server = Server::start_options(options(data_dir, 0, None)).await;
        assert_eq!(answers(&mut server).await, (false, true, vec![1]));
        server.stop().await.expect("clean stop");
    }
}

/// Signs a snapshot's digest.
type Sign<'a> = dyn FnOnce(&[u8; 32]) -> Vec<u8> + 'a;

/// Writes a forged snapshot at the head of the log in `data_dir`: the
/// genuine `snapshot`'s state, with the last event (the first patient's
/// objection) replaced by an objection from the other patient. Signed by
/// `sign`.
async fn forge(data_dir: &Path, snapshot: &Path, sign: impl FnOnce(&[u8; 32]) -> Vec<u8>) {
    let bytes = std::fs::read(snapshot).expect("read");
    let (mut state, _) = Projections::decode_snapshot(&bytes, |_, _| Ok(())).expect("genuine");
    let log = SledLog::open(data_dir).expect("open the log");
    let head = *log.subscribe().borrow();
    assert_eq!(
        head,
        state.position() + 1,
        "the objection is the only event after it"
    );
    let last = log.read_from(head, 1).await.expect("read").remove(0);
    drop(log);
    let forged = RecordedEvent {
        position: head,
        stream: format!("patient/{OTHER_PATIENT}"),
        payload: Some(EventPayload {
            kind: Some(Kind::ObjectionRecorded(ObjectionRecorded {
                nhs_number: OTHER_PATIENT.into(),
                scope: ObjectionScope::DirectCare.into(),
                ..Default::default()
            })),
        }),
        ..Default::default()
    };
    state.apply(&forged).expect("next position");
    let path = data_dir
        .join("snapshots")
        .join(format!("projections-{head:020}.snap"));
    std::fs::write(path, state.encode_snapshot(&last.chain_hash, sign)).expect("write");
}

#[tokio::test]
async fn with_a_signing_key_only_snapshots_it_signed_are_used() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = SigningKey::from_bytes(&[7; 32]);
    let other_key = SigningKey::from_bytes(&[8; 32]);
    let snapshot = history(dir.path(), Some(key.clone())).await;
    let from_the_log = (false, true, vec![1]);
    let from_the_forgery = (true, false, Vec::new());
    let signers: [(Box<Sign<'_>>, _); 3] = [
        (Box::new(|_| Vec::new()), &from_the_log),
        (
            Box::new(|d| other_key.sign(d).to_bytes().to_vec()),
            &from_the_log,
        ),
        // Signed by the service's own key, it is believed: the key, not
        // the file system, is what a snapshot is trusted on.
        (
            Box::new(|d| key.sign(d).to_bytes().to_vec()),
            &from_the_forgery,
        ),
    ];
    for (sign, expected) in signers {
        forge(dir.path(), &snapshot, sign).await;
        let mut server = Server::start_options(options(dir.path(), 0, Some(key.clone()))).await;
        assert_eq!(&answers(&mut server).await, expected);
        server.stop().await.expect("clean stop");
    }
}

#[tokio::test]
async fn from_a_snapshot_a_log_that_fails_verification_stops_decisions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = SigningKey::from_bytes(&[9; 32]);
    history(dir.path(), Some(key.clone())).await;
    let signed = checkpoints(dir.path()).await;
    // Alter the first patient event behind the log's back: its chain breaks.
    damage_event(dir.path(), |events| {
        events
            .into_iter()
            .find(|(_, v)| v.windows(10).any(|w| w == OTHER_PATIENT.as_bytes()))
    });
    // Without the snapshot the service refuses to start at all; with it,
    // it may start, and stops deciding and writing once verification
    // finds the break.
    let mut server = Server::start_options(options(dir.path(), 0, Some(key))).await;
    let mut stopped = None;
    for _ in 0..200 {
        let asked = server
            .decisions
            .authorize(icr_proto::pb::AuthorizeRequest {
                nhs_number: OTHER_PATIENT.into(),
                requester: Some(clinician()),
                section: RecordSection::Medications.into(),
                purpose: icr_proto::pb::Purpose::DirectCare.into(),
                ..Default::default()
            })
            .await;
        match asked {
            Err(status) => {
                stopped = Some(status);
                break;
            }
            Ok(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    let status = stopped.expect("decisions stop once verification fails");
    const BREAK: &str = "The log was altered or damaged";
    if status.code() != tonic::Code::Unavailable {
        // This small log verified before the tail was folded: then the
        // start fails, naming the break found beside it (not before
        // serving, which would mean the snapshot was not used).
        let refused = server.stop().await.expect_err("the start is refused");
        assert!(refused.contains(BREAK), "{refused}");
        assert!(refused.contains("projections stopped"), "{refused}");
        assert_eq!(checkpoints(dir.path()).await, signed, "nothing signed");
        return;
    }
    assert!(status.message().contains(BREAK), "{}", status.message());
    let write = server
        .consent
        .record_objection(Server::objection(OTHER_PATIENT))
        .await;
    let refused = write.expect_err("no writes");
    assert_eq!(refused.code(), tonic::Code::Unavailable);
    assert!(refused.message().contains(BREAK), "{}", refused.message());
    server.stop().await.expect("stops");
    // The key never vouched for the broken log: not before verification
    // ended, not after, not when stopping.
    assert_eq!(checkpoints(dir.path()).await, signed, "nothing signed");
}

type Stored = (sled::IVec, sled::IVec);

/// Flips a bit in the last byte of the stored event `pick` chooses, behind
/// the log's back (the service is stopped): its chain breaks there.
fn damage_event(data_dir: &Path, pick: impl FnOnce(Vec<Stored>) -> Option<Stored>) {
    let db = sled::open(data_dir).expect("open with sled");
    let log = db.open_tree("log").expect("log tree");
    let (key, value) = pick(log.scan_prefix(b"e").flatten().collect()).expect("an event");
    let mut value = value.to_vec();
    let at = value.len() - 1;
    value[at] ^= 1;
    log.insert(key, value).expect("write");
    db.flush().expect("flush");
}

/// How many checkpoints a stopped service's log holds.
async fn checkpoints(data_dir: &Path) -> usize {
    let log = SledLog::open(data_dir).expect("open the log");
    log.checkpoints(1, 10_000).await.expect("read").len()
}

#[tokio::test]
async fn a_damaged_event_after_the_snapshot_refuses_the_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    history(dir.path(), None).await;
    // The last event (the objection) is in the tail the snapshot does not
    // cover: it is checked against the chain before anything is served.
    damage_event(dir.path(), |mut events| events.pop());
    let server = Server::start_options(options(dir.path(), 0, None)).await;
    let refused = server.stop().await.expect_err("the start is refused");
    assert!(
        refused.contains("altered or damaged after snapshot"),
        "{refused}"
    );
}

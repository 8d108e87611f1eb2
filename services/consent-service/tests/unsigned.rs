//! What the binary says at start about records no checkpoint vouches for:
//! after a crash with a signing key, how many events and decisions, and at
//! which positions, the last checkpoint does not cover; without a key,
//! once, that there are no checkpoints and what that means.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Service, admit, clinician_asks, objection, patients};
use icr_log::ed25519_dalek::SigningKey;
use icr_log::ed25519_dalek::pkcs8::EncodePrivateKey;
use icr_log::ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use icr_proto::pb::{Checkpoint, ListCheckpointsRequest, RecordSection};

/// Long enough that no checkpoint is signed between the one at start and
/// the kill.
const RARE_CHECKPOINTS: [&str; 2] = ["--checkpoint-every-secs", "3600"];

/// How long to wait for a line the service will print: a guard against a
/// hang, not a measurement.
const GIVE_UP: Duration = Duration::from_secs(60);

/// Writes a signing key as the service reads `--signing-key`.
fn write_key(path: &Path) {
    let key = SigningKey::from_bytes(&[42; 32]);
    let pem = key.to_pkcs8_pem(LineEnding::LF).expect("PKCS#8 PEM");
    std::fs::write(path, pem.as_bytes()).expect("write the key");
}

/// Waits until the service has printed a line containing `wanted` (it
/// verifies the chains before or, from a snapshot, beside serving).
async fn printed_line(service: &Service, wanted: &str) -> String {
    let began = std::time::Instant::now();
    loop {
        if let Some(line) = service
            .output
            .lock()
            .expect("output")
            .iter()
            .find(|line| line.contains(wanted))
        {
            return line.clone();
        }
        assert!(
            began.elapsed() < GIVE_UP,
            "no `{wanted}` in:\n{}",
            service.printed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The checkpoints signed so far.
async fn checkpoints(service: &Service) -> Vec<Checkpoint> {
    let request = ListCheckpointsRequest {
        from_sequence: 1,
        page_size: 100,
    };
    let listed = service.audit().list_checkpoints(request).await;
    listed.expect("list checkpoints").into_inner().checkpoints
}

#[tokio::test]
async fn after_a_crash_the_unsigned_tail_is_counted_by_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (data, key) = (dir.path().join("data"), dir.path().join("audit.key.pem"));
    write_key(&key);
    let args = [
        &["--signing-key", key.to_str().expect("UTF-8")][..],
        &RARE_CHECKPOINTS,
    ]
    .concat();
    let service = Service::start(&data, &args);
    // The checkpoint signed at start, before anything is written.
    let began = std::time::Instant::now();
    let first = loop {
        if let Some(first) = checkpoints(&service).await.pop() {
            break first;
        }
        assert!(began.elapsed() < GIVE_UP, "no checkpoint signed at start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(first.audit_position, 0);
    let patients = patients(5);
    let mut care = service.care();
    let mut head = first.event_position;
    for nhs in &patients {
        admit(&mut care, nhs).await;
        let objected = service
            .consent()
            .record_objection(objection(&format!("object-{nhs}"), nhs))
            .await
            .expect("objection");
        head = objected.into_inner().result.expect("result").log_position;
    }
    for section in [
        RecordSection::Medications,
        RecordSection::Allergies,
        RecordSection::CarePlans,
    ] {
        let asked = service
            .decisions()
            .authorize(clinician_asks(&patients[0], section))
            .await;
        asked.expect("decision");
    }
    service.kill();

    let restarted = Service::start(&data, &args);
    let warning = printed_line(&restarted, "after the last checkpoint").await;
    let unsigned = head - first.event_position;
    let expected = format!(
        "{unsigned} events (positions {} to {head}) and 3 decisions (positions 1 to 3) after \
         the last checkpoint are chained but unsigned: expected after a crash; otherwise \
         compare with checkpoints kept off this host before trusting them (the next \
         checkpoint will vouch for them) unsigned_events={unsigned} unsigned_decisions=3",
        first.event_position + 1
    );
    assert!(
        warning.contains(&expected),
        "`{expected}` not in:\n{warning}"
    );
    assert!(warning.contains("WARN"), "{warning}");
}

#[tokio::test]
async fn without_a_key_a_clean_restart_says_once_that_there_are_no_checkpoints() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let service = Service::start(&data, &[]);
    let nhs = &patients(1)[0];
    admit(&mut service.care(), nhs).await;
    let mut decisions = service.decisions();
    let asked = decisions.authorize(clinician_asks(nhs, RecordSection::Medications));
    asked.await.expect("decision");
    drop(decisions);
    service.terminate();
    // Waited for off the runtime, which still has to close the connection.
    let exited = tokio::task::spawn_blocking(move || service.wait());
    assert!(exited.await.expect("wait for the service").success());

    let restarted = Service::start(&data, &[]);
    printed_line(&restarted, "hash chains verified").await;
    let printed = restarted.printed();
    let said = "no signing key: this service signs no checkpoints, so nothing vouches for what \
                it writes. The hash chains still catch accidental damage, but whoever can write \
                the data directory can rewrite its history undetected; make a key with \
                `consent-cli audit keygen` and start with --signing-key";
    assert_eq!(printed.matches(said).count(), 1, "{printed}");
    for misleading in ["unsigned", "will vouch", "checkpoints are signed"] {
        assert!(
            !printed.contains(misleading),
            "`{misleading}` in:\n{printed}"
        );
    }
}

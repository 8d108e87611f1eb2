//! Snapshots across builds, through the real binary: a snapshot of this
//! build's format is read back; one of another format (written before the
//! format was stored, or by a newer build) is skipped with a line naming
//! both formats, and the service folds the log and answers the same.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Service, admit, clinician_asks, objection, patients};
use icr_projections::SNAPSHOT_FORMAT;
use icr_proto::pb::{GetConsentStatusRequest, Outcome, RecordSection};

/// The format byte's place in a snapshot file: after the magic `ICRSNAP`.
const FORMAT_AT: usize = 7;

/// How long to wait for something the service will do: a guard against a
/// hang, not a measurement.
const GIVE_UP: Duration = Duration::from_secs(60);

/// Snapshot files in `data`, oldest first.
fn snapshot_files(data: &Path) -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(data.join("snapshots"))
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "snap"));
    files.sort();
    files
}

/// The position a snapshot file is named after.
fn position_of(path: &Path) -> Option<u64> {
    let name = path.file_stem()?.to_str()?.strip_prefix("projections-")?;
    name.parse().ok()
}

/// Stops the service with SIGTERM and waits for a clean exit.
async fn stop(service: Service) {
    service.terminate();
    let exited = tokio::task::spawn_blocking(move || service.wait());
    assert!(exited.await.expect("wait for the service").success());
}

/// What a clinician is told about both patients, and the first patient's
/// active objections.
async fn answers(service: &Service, both: &[String]) -> (Vec<bool>, Vec<i32>) {
    let mut allowed = Vec::new();
    for nhs in both {
        let asked = service
            .decisions()
            .authorize(clinician_asks(nhs, RecordSection::Medications))
            .await
            .expect("decision")
            .into_inner();
        let decision = asked.decision.expect("a decision");
        allowed.push(decision.outcome == i32::from(Outcome::Allow));
    }
    let status = service
        .consent()
        .get_consent_status(GetConsentStatusRequest {
            nhs_number: both[0].clone(),
            ..Default::default()
        })
        .await
        .expect("status")
        .into_inner();
    (allowed, status.active_objections)
}

#[tokio::test]
async fn a_snapshot_of_another_format_is_skipped_and_the_log_is_folded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let both = patients(2);

    // A history with a snapshot of all of it.
    let service = Service::start(&data, &["--snapshot-every-events", "1"]);
    for nhs in &both {
        admit(&mut service.care(), nhs).await;
    }
    let objected = service
        .consent()
        .record_objection(objection("object", &both[0]))
        .await
        .expect("objection");
    let head = objected.into_inner().result.expect("result").log_position;
    let began = std::time::Instant::now();
    while !snapshot_files(&data)
        .iter()
        .any(|f| position_of(f) == Some(head))
    {
        assert!(began.elapsed() < GIVE_UP, "no snapshot at {head}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let expected = answers(&service, &both).await;
    assert_eq!(expected, (vec![false, true], vec![1]), "the history");
    stop(service).await;
    let genuine: Vec<_> = snapshot_files(&data)
        .into_iter()
        .map(|f| {
            let bytes = std::fs::read(&f).expect("read");
            (f, bytes)
        })
        .collect();

    // This build's format reads back.
    let service = Service::start(&data, &["--snapshot-every-events", "0"]);
    let printed = service.printed();
    assert!(
        printed.contains("projections loaded from a snapshot"),
        "{printed}"
    );
    assert!(!printed.contains("skipped"), "{printed}");
    assert_eq!(answers(&service, &both).await, expected);
    stop(service).await;

    // 0: a snapshot written before the format was stored (its magic ended
    // in a NUL byte where the format now is); the other: a newer build's.
    for found in [0, SNAPSHOT_FORMAT + 1] {
        for (file, bytes) in &genuine {
            let mut other = bytes.clone();
            other[FORMAT_AT] = found;
            std::fs::write(file, other).expect("write");
        }
        let service = Service::start(&data, &["--snapshot-every-events", "0"]);
        let printed = service.printed();
        let (oldest, newer) = genuine.split_first().expect("a snapshot");
        let skipped = |file: &PathBuf, instead: &str| {
            format!(
                "snapshot {} is format v{found}, this build reads v{SNAPSHOT_FORMAT}: skipped; \
                 {instead}",
                file.display()
            )
        };
        let line = skipped(
            &oldest.0,
            "the log is folded from the start (slower, never different)",
        );
        assert!(printed.contains(&line), "`{line}` not in:\n{printed}");
        for (file, _) in newer {
            let line = skipped(file, "the next older snapshot is tried");
            assert!(printed.contains(&line), "`{line}` not in:\n{printed}");
        }
        assert!(
            !printed.contains("projections loaded from a snapshot"),
            "{printed}"
        );
        assert_eq!(answers(&service, &both).await, expected, "format {found}");
        stop(service).await;
    }
}

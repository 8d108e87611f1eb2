//! A damaged tail is never served short.
//!
//! The real binary acknowledges patient registrations, care relationships
//! and three access decisions, and is killed with SIGKILL. Then, in copies
//! of its directory, each byte of the last records in sled's `db` file is
//! damaged in turn, and the file is cut short at several points, as a
//! failing disk or a torn write would leave it. sled's recovery keeps its
//! log only up to the first damaged record, so most cases lose the tail;
//! every case must either open with every acknowledged event and decision
//! (and verify), or be refused naming what is missing (or that the storage
//! is damaged, with what had been acknowledged). The log is opened in
//! process for each case (the binary opens it the same way); one case goes
//! through the binary, with a projection snapshot to start from, which must
//! refuse to start with the same words.

mod common;

use std::path::{Path, PathBuf};

use common::{Service, admit, all_events, clinician_asks, patients};
use icr_log::chain::{decision_bytes, event_bytes};
use icr_log::test_util::{Record, copy_data_dir};
use icr_log::{DecisionAudit, EventLog, LogError, SledLog};
use icr_proto::pb::{Outcome, RecordSection};

/// A killed service's directory, to make fresh copies of.
struct Killed {
    /// The directory: sled's files, the record of what was acknowledged
    /// and the projection snapshots.
    dir: PathBuf,
    /// sled's `db` file as the kill left it.
    db: Vec<u8>,
    /// Acknowledged event and decision heads.
    events: u64,
    decisions: u64,
}

impl Killed {
    async fn new(dir: &Path) -> Self {
        let data = dir.join("killed");
        // Small, so that a projection snapshot is there to start from.
        let service = Service::start(&data, &["--snapshot-every-events", "10"]);
        let mut care = service.care();
        let mut decisions = service.decisions();
        let patients = patients(6);
        for nhs in &patients {
            admit(&mut care, nhs).await;
        }
        let sections = [
            RecordSection::Medications,
            RecordSection::Allergies,
            RecordSection::CarePlans,
        ];
        for section in sections {
            let answer = decisions
                .authorize(clinician_asks(&patients[0], section))
                .await
                .expect("authorize")
                .into_inner();
            let decision = answer.decision.expect("a decision");
            assert_eq!(decision.outcome, Outcome::Allow as i32, "{decision:?}");
        }
        let events = all_events(&mut service.audit()).await;
        let acknowledged = events.last().expect("events").position;
        let snapshots = data.join("snapshots");
        for _ in 0..100 {
            if std::fs::read_dir(&snapshots).is_ok_and(|mut files| files.next().is_some()) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        service.kill();
        assert!(
            std::fs::read_dir(&snapshots).is_ok_and(|mut files| files.next().is_some()),
            "a snapshot was written"
        );
        let db = std::fs::read(data.join("db")).expect("read sled's db file");
        Self {
            dir: data,
            db,
            events: acknowledged,
            decisions: sections.len() as u64,
        }
    }

    /// A fresh copy in `dir` with `db` changed by `damage`.
    fn copy(&self, dir: &Path, damage: impl FnOnce(&mut Vec<u8>)) -> PathBuf {
        let _ = std::fs::remove_dir_all(dir);
        copy_data_dir(&self.dir, dir, Record::Copied);
        let mut db = self.db.clone();
        damage(&mut db);
        std::fs::write(dir.join("db"), db).expect("write");
        dir.to_owned()
    }

    fn db(&self) -> &[u8] {
        &self.db
    }
}

/// How a damaged copy ended.
#[derive(Debug, Default)]
struct Outcomes {
    recovered: usize,
    lost: usize,
    damaged: usize,
}

impl Killed {
    /// Opens the copy in `dir` and checks it was recovered whole or refused
    /// naming the loss; `case` names it in failures.
    fn check(&self, dir: &Path, case: &str, outcomes: &mut Outcomes) {
        match SledLog::open(dir) {
            Ok(log) => {
                let verified = log
                    .verify(None)
                    .expect("read")
                    .unwrap_or_else(|broken| panic!("{case}: opened but broken: {broken}"));
                assert!(
                    verified.events >= self.events && verified.decisions >= self.decisions,
                    "{case}: served short: {verified}"
                );
                outcomes.recovered += 1;
            }
            Err(LogError::Lost(lost)) => {
                let names = |range: &Option<std::ops::RangeInclusive<u64>>, head: u64| {
                    range.as_ref().is_none_or(|r| *r.end() == head)
                };
                assert!(
                    names(&lost.events, self.events) && names(&lost.decisions, self.decisions),
                    "{case}: {lost}"
                );
                assert!(lost.missing().is_some(), "{case}: {lost}");
                assert!(
                    lost.to_string()
                        .contains("were acknowledged but are missing")
                );
                outcomes.lost += 1;
            }
            Err(LogError::Damaged(damage)) => {
                let heads = damage.acknowledged.expect("the record was readable");
                assert_eq!(
                    (heads.events, heads.decisions),
                    (self.events, self.decisions),
                    "{case}: {damage}"
                );
                outcomes.damaged += 1;
            }
            Err(other) => panic!("{case}: refused without naming the loss: {other}"),
        }
    }
}

/// Where the stored values of the last two events and the last decision
/// start in `db`, found by their chain hashes (the first 32 bytes of each
/// stored value), and how long each is (the hash and the record's stored
/// encoding).
async fn last_records(killed: &Killed, dir: &Path) -> Vec<(usize, usize)> {
    let copy = killed.copy(dir, |_| {});
    let log = SledLog::open(&copy).expect("an undamaged copy opens");
    let mut values = Vec::new();
    for event in log.read_from(killed.events - 1, 2).await.expect("read") {
        values.push((event.chain_hash.clone(), event_bytes(&event)));
    }
    for record in log.read_decisions(killed.decisions, 1).await.expect("read") {
        values.push((record.chain_hash.clone(), decision_bytes(&record)));
    }
    drop(log);
    let db = killed.db();
    values
        .iter()
        .map(|(hash, encoded)| {
            let start = db
                .windows(32)
                .rposition(|window| window == hash.as_slice())
                .expect("the value is in db");
            // The whole value is there, so each byte damaged is one of it.
            let stored = db.get(start + hash.len()..start + hash.len() + encoded.len());
            assert_eq!(stored, Some(encoded.as_slice()), "stored as encoded");
            (start, hash.len() + encoded.len())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_or_truncated_tail_is_recovered_whole_or_refused_never_short() {
    let dir = tempfile::tempdir().expect("tempdir");
    let killed = Killed::new(dir.path()).await;
    let case_dir = dir.path().join("case");
    let records = last_records(&killed, &case_dir).await;
    let starts: Vec<usize> = records.iter().map(|(start, _)| *start).collect();
    let mut outcomes = Outcomes::default();
    let mut damaged_bytes = 0;
    // Each record's stored value, and the 16 bytes of sled's header before it.
    for (start, length) in &records {
        for at in start.saturating_sub(16)..start + length {
            let copy = killed.copy(&case_dir, |db| db[at] ^= 0x55);
            killed.check(&copy, &format!("byte {at} changed"), &mut outcomes);
            damaged_bytes += 1;
        }
    }
    let len = killed.db().len();
    let mut cuts = vec![0, 4096, len / 2, len - 1];
    cuts.extend(starts.iter().flat_map(|s| [s - 1, s + 16, s + 100]));
    for cut in &cuts {
        let copy = killed.copy(&case_dir, |db| db.truncate(*cut));
        killed.check(&copy, &format!("cut at byte {cut}"), &mut outcomes);
    }
    // Otherwise the damage never touched anything sled reads.
    assert!(outcomes.lost > 0, "{outcomes:?}");
    println!(
        "damaged tail: {damaged_bytes} bytes changed one at a time and cuts at {} points after \
         {} acknowledged events and {} decisions: {outcomes:?}",
        cuts.len(),
        killed.events,
        killed.decisions
    );
    the_binary_refuses_a_short_copy(&killed, dir.path(), starts[0] + 40);
}

/// The binary, started on a copy whose byte `at` is damaged (with the
/// projection snapshots), refuses to start and names what is missing, as
/// the log says when opened in process.
fn the_binary_refuses_a_short_copy(killed: &Killed, dir: &Path, at: usize) {
    let probe = killed.copy(&dir.join("probe"), |db| db[at] ^= 0x55);
    let Err(LogError::Lost(lost)) = SledLog::open(&probe) else {
        panic!("damage inside event {} loses it", killed.events - 1);
    };
    let missing = lost.missing().expect("a missing range");
    let copy = killed.copy(&dir.join("short"), |db| db[at] ^= 0x55);
    // The service would start from the snapshot copied with the directory:
    // the log is compared first.
    let printed = Service::try_start(&copy, &[])
        .err()
        .expect("the service refuses to start");
    let expected = format!(
        "refusing to start: {missing} were acknowledged but are missing from the log \
         in {}",
        copy.display()
    );
    assert!(
        printed.contains(&expected),
        "`{expected}` not in:\n{printed}"
    );
    assert!(
        printed.contains("restore the directory from a verified copy or backup"),
        "{printed}"
    );
    assert!(!printed.contains("serving"), "{printed}");
}

use std::path::Path;

use icr_proto::pb::event_payload::Kind;
use icr_proto::pb::{Actor, DecisionRecord, EventPayload, OrganisationLeft};

use super::*;
use crate::chain::Chain;
use crate::{
    AppendRequest, DecisionAudit, EventLog, ExpectedVersion, LogError, Lost, PendingEvent, SledLog,
};

fn heads(events: u64, decisions: u64) -> Heads {
    Heads {
        events,
        event_hash: [events as u8; 32],
        decisions,
        decision_hash: [decisions as u8; 32],
    }
}

fn append(id: &str, ods: &str) -> AppendRequest {
    AppendRequest {
        stream: "organisation/a".into(),
        expected_version: ExpectedVersion::Any,
        request_id: id.into(),
        fingerprint: id.as_bytes().to_vec(),
        events: vec![PendingEvent {
            actor: Actor::default(),
            event_type: "OrganisationLeft".into(),
            schema_version: 1,
            payload: EventPayload {
                kind: Some(Kind::OrganisationLeft(OrganisationLeft {
                    ods_code: ods.into(),
                })),
            },
        }],
    }
}

fn decision(id: &str) -> DecisionRecord {
    DecisionRecord {
        nhs_number: "9434765919".into(),
        decision_id: id.into(),
        ..Default::default()
    }
}

/// Appends events `from..=to` and `decisions` decision records.
async fn write(log: &SledLog, from: u64, to: u64, decisions: u64) {
    for i in from..=to {
        log.append(append(&format!("r{i}"), "RKB"))
            .await
            .expect("append");
    }
    for i in 0..decisions {
        log.record(vec![decision(&format!("d{from}-{i}"))])
            .await
            .expect("record");
    }
}

/// Copies sled's files (not the record of acknowledged heads) from one
/// directory to another: the log as it was, as a storage failure that loses
/// the tail leaves it.
fn copy_sled_files(from: &Path, to: &Path) {
    crate::test_util::copy_data_dir(from, to, crate::test_util::Record::Left);
}

/// What `open` logs at warning level or above, with what it returned.
fn logged<T>(open: impl FnOnce() -> T) -> (T, String) {
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<Mutex<Vec<u8>>>);
    impl io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let opened = tracing::subscriber::with_default(subscriber, open);
    let text = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("UTF-8");
    (opened, text)
}

/// Removes the mark in sled that the record is kept, as a directory
/// written before the record existed has none.
fn unmark(dir: &Path) {
    let db = sled::open(dir).expect("open with sled");
    db.drop_tree(MARK_TREE).expect("drop the mark");
    db.flush().expect("flush");
}

fn flip(path: &Path, at: u64) {
    let mut bytes = std::fs::read(path).expect("read");
    bytes[at as usize] ^= 0x20;
    std::fs::write(path, bytes).expect("write");
}

#[test]
fn a_torn_slot_leaves_the_other_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let record = Acknowledged::create(dir.path(), &heads(1, 0)).expect("create");
    record.record(&heads(2, 1)).expect("second");
    record.record(&heads(3, 1)).expect("third");
    assert_eq!(read(dir.path()).expect("read"), Some(heads(3, 1)));
    let path = dir.path().join(FILE_NAME);
    let whole = std::fs::read(&path).expect("read");
    // The third went to the slot at 512; the second is at 0.
    for at in 0..RECORD as u64 {
        flip(&path, SLOT + at);
        assert_eq!(read(dir.path()).expect("read"), Some(heads(2, 1)), "{at}");
        std::fs::write(&path, &whole).expect("restore");
        flip(&path, at);
        assert_eq!(read(dir.path()).expect("read"), Some(heads(3, 1)), "{at}");
        flip(&path, SLOT + at);
        let neither = read(dir.path()).expect_err("both slots damaged");
        assert_eq!(neither.kind(), io::ErrorKind::InvalidData);
        std::fs::write(&path, &whole).expect("restore");
    }
    // Heads never go back.
    record.record(&heads(2, 1)).expect("older");
    assert_eq!(read(dir.path()).expect("read"), Some(heads(3, 1)));
}

#[tokio::test]
async fn every_flush_records_the_heads_it_made_durable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = SledLog::open(dir.path()).expect("open");
    let empty = read(dir.path())
        .expect("read")
        .expect("a new directory gets a record");
    assert_eq!((empty.events, empty.decisions), (0, 0));
    write(&log, 1, 3, 2).await;
    let recorded = read(dir.path()).expect("read").expect("recorded");
    let stored = |tree: &sled::Tree, key| crate::keys::stored_hash(tree, key).expect("read");
    assert_eq!((recorded.events, recorded.decisions), (3, 2));
    assert_eq!(
        Some(recorded.event_hash),
        stored(&log.inner.tree, crate::keys::event(3))
    );
    let record_key = crate::keys::positioned(crate::audit_keys::RECORD, 2);
    assert_eq!(
        Some(recorded.decision_hash),
        stored(&log.inner.audit_tree, record_key)
    );
    assert_eq!(log.acknowledged(), Some(recorded));
    assert!(marked(&log.inner.db).expect("read the mark"));
}

/// A directory whose log lost events 3 to 5 and decisions 1 to 2 after
/// they were acknowledged.
async fn short_log() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let earlier = dir.path().join("earlier");
    let data = dir.path().join("data");
    let log = SledLog::open(&data).expect("open");
    write(&log, 1, 2, 0).await;
    drop(log);
    copy_sled_files(&data, &earlier);
    let log = SledLog::open(&data).expect("reopen");
    write(&log, 3, 5, 2).await;
    drop(log);
    copy_sled_files(&earlier, &data);
    dir
}

#[path = "acknowledged_mark_tests.rs"]
mod mark;

fn lost(opened: Result<SledLog, LogError>) -> Lost {
    match opened {
        Err(LogError::Lost(lost)) => *lost,
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(log) => panic!("opened short, at {}", log.head()),
    }
}

#[tokio::test]
async fn a_log_shorter_than_what_was_acknowledged_is_refused() {
    let dir = short_log().await;
    let data = dir.path().join("data");
    let recorded = read(&data).expect("read");
    let lost = lost(SledLog::open(&data));
    assert_eq!(
        (&lost.events, &lost.decisions),
        (&Some(3..=5), &Some(1..=2))
    );
    let message = lost.to_string();
    let expected = format!(
        "events 3–5 and decisions 1–2 were acknowledged but are missing from the log in {}",
        data.display()
    );
    assert!(message.starts_with(&expected), "{message}");
    assert!(
        message.contains("restore the directory from a verified copy or backup"),
        "{message}"
    );
    // Refusing leaves the record as it was, so every later start refuses too.
    assert_eq!(read(&data).expect("read"), recorded);
    assert!(matches!(SledLog::open(&data), Err(LogError::Lost(_))));
}

#[tokio::test]
async fn a_torn_record_still_refuses_a_short_log() {
    let dir = short_log().await;
    let data = dir.path().join("data");
    let newest = read_newest(&data).expect("read").expect("recorded").0;
    flip(&data.join(FILE_NAME), (newest % 2) * SLOT + 20);
    let lost = lost(SledLog::open(&data));
    // The slot before holds the flush before the last: decision 1 of 2.
    assert_eq!(
        (&lost.events, &lost.decisions),
        (&Some(3..=5), &Some(1..=1))
    );
    assert_eq!(lost.missing().as_deref(), Some("events 3–5 and decision 1"));
}

#[tokio::test]
async fn a_torn_record_never_refuses_a_good_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = SledLog::open(dir.path()).expect("open");
    write(&log, 1, 3, 1).await;
    drop(log);
    let newest = read_newest(dir.path()).expect("read").expect("recorded").0;
    for at in 0..RECORD as u64 {
        let path = dir.path().join(FILE_NAME);
        let whole = std::fs::read(&path).expect("read");
        flip(&path, (newest % 2) * SLOT + at);
        let (log, warned) = logged(|| SledLog::open(dir.path()));
        let log = log.expect("a torn record opens a good log");
        assert_eq!(log.head(), 3);
        let slot = newest % 2;
        let expected = format!(
            "slot {slot} (bytes {}–{}) of the record of what was acknowledged ({}) is \
             damaged; the log is compared with the other slot, flush {}. A write torn by a \
             crash leaves this, and the damaged slot's flush was then never acknowledged; if \
             the service did not crash, the file itself is being damaged: check the disk",
            slot * SLOT,
            slot * SLOT + RECORD as u64 - 1,
            path.display(),
            newest - 1
        );
        assert!(warned.contains(&expected), "{at}: {warned}");
        drop(log);
        std::fs::write(&path, &whole).expect("restore");
    }
}

#[tokio::test]
async fn a_different_log_of_the_same_length_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (one, other) = (dir.path().join("one"), dir.path().join("other"));
    for (data, ods) in [(&one, "RKB"), (&other, "RYW")] {
        let log = SledLog::open(data).expect("open");
        for i in 1..=3 {
            log.append(append(&format!("r{i}"), ods))
                .await
                .expect("append");
        }
    }
    std::fs::copy(other.join(FILE_NAME), one.join(FILE_NAME)).expect("copy the record");
    let lost = lost(SledLog::open(&one));
    assert_eq!(lost.replaced, Some((Chain::Events, 3)));
    assert!(lost.to_string().contains("event 3 in the log in "));
}

#[test]
fn an_unreadable_record_is_refused_not_rebuilt() {
    let dir = tempfile::tempdir().expect("tempdir");
    drop(SledLog::open(dir.path()).expect("open"));
    std::fs::write(dir.path().join(FILE_NAME), [0; 100]).expect("damage both slots");
    let error = SledLog::open(dir.path()).err().expect("refused");
    assert!(
        matches!(error, LogError::AcknowledgedUnreadable(_)),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        format!(
            "the record of what was acknowledged ({}) is damaged: neither of its two copies \
             is whole, so whether acknowledged records are missing cannot be told. To go on, \
             {}",
            dir.path().join(FILE_NAME).display(),
            crate::damage::RECORD_LOST
        )
    );
    assert!(
        error
            .to_string()
            .contains("a tail lost before then could no longer be detected"),
        "{error}"
    );
    // Moving the file aside does not make the log open: it kept a record.
    std::fs::remove_file(dir.path().join(FILE_NAME)).expect("move aside");
    let error = SledLog::open(dir.path()).err().expect("refused");
    assert!(matches!(error, LogError::AcknowledgedMissing(_)), "{error}");
}

#[test]
fn a_directory_in_use_is_named_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _first = SledLog::open(dir.path()).expect("open");
    let error = SledLog::open(dir.path()).err().expect("held");
    let message = error.to_string();
    assert_eq!(
        message,
        format!(
            "another consent-service (or consent-cli) is using this directory ({}): stop it \
             first, or work on a copy of the directory",
            dir.path().display()
        )
    );
    assert!(std::error::Error::source(&error).is_none(), "said once");
}

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
    std::fs::create_dir_all(to).expect("create");
    for entry in std::fs::read_dir(to).expect("read dir") {
        let entry = entry.expect("entry");
        if entry.file_name() != FILE_NAME && entry.file_type().expect("type").is_file() {
            std::fs::remove_file(entry.path()).expect("remove");
        }
    }
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        if entry.file_name() == FILE_NAME || entry.file_type().expect("type").is_dir() {
            continue;
        }
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
    }
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
    let record_key = crate::keys::positioned(crate::audit::RECORD, 2);
    assert_eq!(
        Some(recorded.decision_hash),
        stored(&log.inner.audit_tree, record_key)
    );
    assert_eq!(log.acknowledged(), Some(recorded));
}

#[tokio::test]
async fn a_directory_without_the_record_opens_and_gets_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = SledLog::open(dir.path()).expect("open");
    write(&log, 1, 4, 1).await;
    drop(log);
    std::fs::remove_file(dir.path().join(FILE_NAME)).expect("as an older version left it");
    let log = SledLog::open(dir.path()).expect("reopen");
    let recorded = read(dir.path()).expect("read").expect("created");
    assert_eq!((recorded.events, recorded.decisions), (4, 1));
    assert_eq!(log.verify(None).expect("read").expect("verifies").events, 4);
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
        let log = SledLog::open(dir.path()).expect("a torn record opens a good log");
        assert_eq!(log.head(), 3);
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
    assert!(
        error
            .to_string()
            .contains("neither of its two copies is whole"),
        "{error}"
    );
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

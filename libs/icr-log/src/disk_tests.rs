use std::os::unix::fs::MetadataExt;

use super::*;
use crate::{EventLog, SledLog};

#[test]
fn syncs_the_file_sled_writes_its_log_to() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = sled::open(dir.path()).expect("open");
    db.insert(b"key", vec![7; 1000]).expect("insert");
    db.flush().expect("flush");
    let disk = DiskSync::open(dir.path()).expect("open files");

    // fsync acts on the inode: ours must be the very file sled wrote.
    let ours = disk.db_file().metadata().expect("our handle");
    let sleds = std::fs::metadata(dir.path().join("db")).expect("sled's file");
    assert_eq!((ours.dev(), ours.ino()), (sleds.dev(), sleds.ino()));
    assert!(ours.len() > 1000, "the log holds the value");
    disk.sync().expect("sync");
}

#[test]
fn a_value_stored_as_a_blob_is_synced_with_its_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = sled::open(dir.path()).expect("open");
    let disk = DiskSync::open(dir.path()).expect("open files");
    db.insert(b"large", vec![1; 256 * 1024]).expect("insert");
    db.flush().expect("flush");
    disk.sync().expect("sync");

    let blobs: Vec<u64> = std::fs::read_dir(dir.path().join("blobs"))
        .expect("blobs")
        .map(|e| {
            let name = e.expect("entry").file_name();
            name.to_str()
                .and_then(|n| n.parse().ok())
                .expect("named by lsn")
        })
        .collect();
    assert!(!blobs.is_empty(), "sled stores a 256 KiB value as a blob");
    let synced = *disk.synced_blob.lock().expect("lock");
    assert_eq!(synced, blobs.iter().copied().max());
}

#[tokio::test]
async fn an_append_is_acknowledged_after_the_sync() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = SledLog::open(dir.path()).expect("open");
    // A failed sync is final: with the handle's sync refused, an append
    // must fail rather than be acknowledged on sled's flush alone.
    log.inner.disk.failed.store(true, Ordering::Release);
    let refused = log
        .append(crate::AppendRequest {
            stream: "organisation/RKB".into(),
            expected_version: crate::ExpectedVersion::Any,
            request_id: "r1".into(),
            fingerprint: vec![1],
            events: vec![crate::PendingEvent {
                actor: Default::default(),
                event_type: "OrganisationLeft".into(),
                schema_version: 1,
                payload: Default::default(),
            }],
        })
        .await;
    assert!(refused.is_err(), "acknowledged without a durable sync");
    assert_eq!(log.head(), 0, "nothing became visible as durable");
}

use super::*;
use crate::{ExpectedVersion, PendingEvent};
use icr_proto::pb::event_payload::Kind;
use icr_proto::pb::{Actor, EventPayload, OrganisationLeft};

fn pending(ods: &str) -> PendingEvent {
    PendingEvent {
        actor: Actor {
            calling_system: "test".into(),
            user_id: "u1".into(),
            on_behalf_of: String::new(),
        },
        event_type: "OrganisationLeft".into(),
        schema_version: 1,
        payload: EventPayload {
            kind: Some(Kind::OrganisationLeft(OrganisationLeft {
                ods_code: ods.into(),
            })),
        },
    }
}

fn request(stream: &str, expected: ExpectedVersion, id: &str) -> AppendRequest {
    AppendRequest {
        stream: stream.into(),
        expected_version: expected,
        request_id: id.into(),
        fingerprint: id.as_bytes().to_vec(),
        events: vec![pending("RKB")],
    }
}

fn open() -> (tempfile::TempDir, SledLog) {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = SledLog::open(dir.path()).expect("open");
    (dir, log)
}

#[tokio::test]
async fn appends_get_gapless_positions_and_stream_versions() {
    let (_dir, log) = open();
    let a = log
        .append(request("s/a", ExpectedVersion::Exact(0), "r1"))
        .await
        .expect("append");
    let b = log
        .append(request("s/b", ExpectedVersion::Any, "r2"))
        .await
        .expect("append");
    let c = log
        .append(request("s/a", ExpectedVersion::Exact(1), "r3"))
        .await
        .expect("append");
    assert_eq!(
        (a.last_position, b.last_position, c.last_position),
        (1, 2, 3)
    );
    assert_eq!(
        (a.stream_version, b.stream_version, c.stream_version),
        (1, 1, 2)
    );
    let all = log.read_from(0, 100).await.expect("read");
    assert_eq!(
        all.iter().map(|e| e.position).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert!(
        all.windows(2).all(|w| w[0].id < w[1].id),
        "ULIDs sort in log order"
    );
    let stream = log.read_stream("s/a", 1).await.expect("stream");
    assert_eq!(
        stream.iter().map(|e| e.position).collect::<Vec<_>>(),
        vec![1, 3]
    );
    let since = log.read_stream("s/a", 2).await.expect("stream");
    assert_eq!(
        since.iter().map(|e| e.stream_version).collect::<Vec<_>>(),
        vec![2],
        "reading from a version skips what a writer has folded"
    );
    assert!(log.read_stream("s/a", 3).await.expect("none").is_empty());
    assert!(
        log.read_stream("s/", 1).await.expect("other").is_empty(),
        "a stream whose name begins another's does not read the other"
    );
    assert_eq!(log.read_from(3, 100).await.expect("read").len(), 1);
    assert_eq!(log.read_from(2, 1).await.expect("read")[0].position, 2);
}

#[tokio::test]
async fn version_conflict_writes_nothing() {
    let (_dir, log) = open();
    log.append(request("s/a", ExpectedVersion::Exact(0), "r1"))
        .await
        .expect("append");
    let err = log
        .append(request("s/a", ExpectedVersion::Exact(0), "r2"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            LogError::VersionConflict {
                expected: 0,
                actual: 1,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(log.read_from(0, 100).await.expect("read").len(), 1);
    assert_eq!(log.find_request("r2", b"r2").await.expect("find"), None);
}

#[tokio::test]
async fn retry_with_same_request_id_appends_nothing() {
    let (_dir, log) = open();
    let first = log
        .append(request("s/a", ExpectedVersion::Any, "r1"))
        .await
        .expect("append");
    let again = log
        .append(request("s/a", ExpectedVersion::Any, "r1"))
        .await
        .expect("append");
    assert!(!first.replayed && again.replayed);
    assert_eq!(again.event_ids, first.event_ids);
    assert_eq!(again.last_position, first.last_position);
    assert_eq!(log.read_from(0, 100).await.expect("read").len(), 1);
    let mut reused = request("s/a", ExpectedVersion::Any, "r1");
    reused.fingerprint = b"different".to_vec();
    assert!(matches!(
        log.append(reused).await,
        Err(LogError::RequestIdReused(_))
    ));
    let found = log
        .find_request("r1", b"r1")
        .await
        .expect("find")
        .expect("present");
    assert!(matches!(
        log.find_request("r1", b"other").await,
        Err(LogError::RequestIdReused(_))
    ));
    assert_eq!(found.event_ids, first.event_ids);
}

#[tokio::test]
async fn empty_appends_are_refused() {
    let (_dir, log) = open();
    let mut empty = request("s/a", ExpectedVersion::Any, "r1");
    empty.events.clear();
    assert!(matches!(
        log.append(empty).await,
        Err(LogError::InvalidAppend(_))
    ));
    assert!(matches!(
        log.append(request("", ExpectedVersion::Any, "r2")).await,
        Err(LogError::InvalidAppend(_))
    ));
    assert_eq!(log.head(), 0);
}

#[tokio::test]
async fn reopening_keeps_every_acknowledged_event() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ids = {
        let log = SledLog::open(dir.path()).expect("open");
        let mut ids = Vec::new();
        for i in 0..5 {
            let appended = log
                .append(request("s/a", ExpectedVersion::Any, &format!("r{i}")))
                .await
                .expect("append");
            ids.extend(appended.event_ids);
        }
        ids
    };
    let log = SledLog::open(dir.path()).expect("reopen");
    assert_eq!(log.head(), 5);
    let events = log.read_from(1, 100).await.expect("read");
    assert_eq!(events.iter().map(|e| e.id.clone()).collect::<Vec<_>>(), ids);
    let next = log
        .append(request("s/a", ExpectedVersion::Exact(5), "r9"))
        .await
        .expect("append");
    assert_eq!((next.last_position, next.stream_version), (6, 6));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_concurrent_appends_stay_gapless_share_flushes_and_never_hang() {
    let (_dir, log) = open();
    let mut head = log.subscribe();
    let tasks: Vec<_> = (0..32)
        .map(|w| {
            let log = log.clone();
            tokio::spawn(async move {
                for i in 0..25 {
                    let r = request(
                        &format!("s/{w}"),
                        ExpectedVersion::Any,
                        &format!("w{w}-{i}"),
                    );
                    log.append(r).await.expect("append");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("join");
    }
    head.wait_for(|h| *h == 800).await.expect("head");
    let events = log.read_from(1, 1000).await.expect("read");
    assert_eq!(
        events.iter().map(|e| e.position).collect::<Vec<_>>(),
        (1..=800).collect::<Vec<_>>()
    );
    for w in 0..32 {
        let versions: Vec<_> = log
            .read_stream(&format!("s/{w}"), 0)
            .await
            .expect("stream")
            .iter()
            .map(|e| e.stream_version)
            .collect();
        assert_eq!(versions, (1..=25).collect::<Vec<_>>());
    }
}

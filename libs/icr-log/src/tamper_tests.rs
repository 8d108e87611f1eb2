use super::*;
use crate::chain::{Chain, link};
use crate::{AppendRequest, DecisionAudit, EventLog, ExpectedVersion, PendingEvent};
use icr_proto::pb::event_payload::Kind;
use icr_proto::pb::{Actor, DecisionRecord, EventPayload, OrganisationLeft};

fn append(stream: &str, id: &str) -> AppendRequest {
    AppendRequest {
        stream: stream.into(),
        expected_version: ExpectedVersion::Any,
        request_id: id.into(),
        fingerprint: id.as_bytes().to_vec(),
        events: vec![PendingEvent {
            actor: Actor::default(),
            event_type: "OrganisationLeft".into(),
            schema_version: 1,
            payload: EventPayload {
                kind: Some(Kind::OrganisationLeft(OrganisationLeft {
                    ods_code: "RKB".into(),
                })),
            },
        }],
    }
}

/// A log with six events, two decisions and a checkpoint over all of it.
async fn signed_log() -> (tempfile::TempDir, SledLog, SigningKey) {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = SledLog::open(dir.path()).expect("open");
    for i in 1..=6 {
        log.append(append(&format!("s/{}", i % 2), &format!("r{i}")))
            .await
            .expect("append");
    }
    let record = |id: &str| DecisionRecord {
        nhs_number: "9434765919".into(),
        decision_id: id.into(),
        ..Default::default()
    };
    log.record(vec![record("d1"), record("d2")])
        .await
        .expect("record");
    let key = SigningKey::from_bytes(&[3; 32]);
    let checkpoint = log.checkpoint(&key).await.expect("sign").expect("new");
    assert_eq!(
        (checkpoint.event_position, checkpoint.audit_position),
        (6, 2)
    );
    assert!(
        log.checkpoint(&key).await.expect("sign").is_none(),
        "nothing new"
    );
    (dir, log, key)
}

fn broken(log: &SledLog, key: &SigningKey) -> Break {
    log.verify(Some(&key.verifying_key()))
        .expect("readable")
        .expect_err("tampering is found")
}

fn event_key(position: u64) -> [u8; 9] {
    keys::event(position)
}

#[tokio::test]
async fn an_untouched_log_verifies_up_to_its_heads() {
    let (_dir, log, key) = signed_log().await;
    let verified = log
        .verify(Some(&key.verifying_key()))
        .expect("read")
        .expect("ok");
    assert_eq!((verified.events, verified.decisions), (6, 2));
    assert_eq!((verified.signed_events, verified.signed_decisions), (6, 2));
    assert_eq!(verified.checkpoints, 1);
    let other = SigningKey::from_bytes(&[4; 32]);
    assert_eq!(broken(&log, &other).chain, Chain::Checkpoints);
}

#[tokio::test]
async fn a_changed_byte_names_its_event() {
    let (_dir, log, key) = signed_log().await;
    let tree = &log.inner.tree;
    let mut bytes = tree
        .get(event_key(4))
        .expect("get")
        .expect("event")
        .to_vec();
    let at = bytes
        .windows(2)
        .position(|w| w == b"r4")
        .expect("request id");
    bytes[at + 1] = b'9';
    tree.insert(event_key(4), bytes).expect("tamper");
    let found = broken(&log, &key);
    assert_eq!((found.chain, found.position), (Chain::Events, 4), "{found}");
}

#[tokio::test]
async fn a_deleted_or_swapped_event_names_the_first_bad_position() {
    let (_dir, log, key) = signed_log().await;
    let tree = &log.inner.tree;
    let three = tree.get(event_key(3)).expect("get").expect("event");
    let five = tree.get(event_key(5)).expect("get").expect("event");
    tree.insert(event_key(3), five).expect("swap");
    tree.insert(event_key(5), three).expect("swap");
    assert_eq!(broken(&log, &key).position, 3);
    tree.remove(event_key(2)).expect("delete");
    assert_eq!(broken(&log, &key).position, 2);
}

#[tokio::test]
async fn a_consistent_rewrite_or_a_cut_tail_is_caught_by_the_checkpoint() {
    let (_dir, log, key) = signed_log().await;
    let tree = &log.inner.tree;
    // Rewrite event 5 and recompute every chain hash from there.
    let mut hash = keys::stored_hash(tree, event_key(4))
        .expect("get")
        .expect("hash");
    for position in 5..=6 {
        let value = tree.get(event_key(position)).expect("get").expect("event");
        let (_, bytes) = keys::unseal(&value).expect("sealed");
        let mut bytes = bytes.to_vec();
        if position == 5 {
            let at = bytes.windows(3).position(|w| w == b"RKB").expect("ods");
            bytes[at + 2] = b'X';
        }
        hash = link(&hash, &bytes);
        tree.insert(event_key(position), keys::seal(&hash, &bytes))
            .expect("rewrite");
    }
    let found = broken(&log, &key);
    assert_eq!(
        (found.chain, found.position),
        (Chain::Checkpoints, 1),
        "{found}"
    );

    let (_dir, log, key) = signed_log().await;
    let audit = &log.inner.audit_tree;
    audit
        .remove(keys::positioned(crate::audit_keys::RECORD, 2))
        .expect("cut");
    let found = broken(&log, &key);
    assert_eq!(found.chain, Chain::Checkpoints, "{found}");
    assert!(found.reason.contains("removed"), "{found}");
}

#[tokio::test]
async fn indexes_that_disagree_with_the_chained_items_are_named() {
    let (_dir, log, key) = signed_log().await;
    let audit = &log.inner.audit_tree;
    // A view hidden from the patient's access report.
    let entry = crate::audit_keys::patient_key("9434765919", 2);
    audit.remove(&entry).expect("hide");
    let found = broken(&log, &key);
    assert_eq!(
        (found.chain, found.position),
        (Chain::Decisions, 2),
        "{found}"
    );
    audit.insert(&entry, &[]).expect("restore");
    // Another patient's report made to show this view.
    audit
        .insert(crate::audit_keys::patient_key("9434765870", 1), &[])
        .expect("plant");
    let found = broken(&log, &key);
    assert_eq!(
        (found.chain, found.position),
        (Chain::Decisions, 1),
        "{found}"
    );

    let (_dir, log, key) = signed_log().await;
    // A stream index pointed at another stream's event.
    let tree = &log.inner.tree;
    tree.insert(keys::stream_index("s/1", 1), &2u64.to_be_bytes())
        .expect("repoint");
    let found = broken(&log, &key);
    assert_eq!(found.chain, Chain::Events, "{found}");
    assert!(found.reason.contains("stream"), "{found}");
    let read = log.read_stream("s/1", 1).await;
    assert!(read.is_err(), "a reader refuses the damaged index too");
}

#[tokio::test]
async fn an_index_entry_that_no_item_owns_is_found_and_named() {
    // Each index is counted against its items first; an extra entry makes
    // the count differ, and the entry-by-entry check then names it.
    // Also past the head: a writer may add items while a check runs, but
    // an entry must still agree with the item it names.
    for position in [2u64, 99] {
        let (_dir, log, key) = signed_log().await;
        log.inner
            .tree
            .insert(keys::stream_index("s/9", 1), &position.to_be_bytes())
            .expect("plant");
        let found = broken(&log, &key);
        assert_eq!(
            (found.chain, found.position),
            (Chain::Events, position),
            "{found}"
        );
        assert!(found.reason.contains("s/9"), "{found}");
    }

    let (_dir, log, key) = signed_log().await;
    log.inner
        .audit_tree
        .insert(
            crate::audit_keys::decision_id_key("forged"),
            &1u64.to_be_bytes(),
        )
        .expect("plant");
    let found = broken(&log, &key);
    assert_eq!(
        (found.chain, found.position),
        (Chain::Decisions, 1),
        "{found}"
    );

    let (_dir, log, key) = signed_log().await;
    log.inner
        .audit_tree
        .insert(keys::positioned(crate::audit_keys::REVIEW, 99), &[])
        .expect("plant");
    let found = broken(&log, &key);
    assert_eq!(
        (found.chain, found.position),
        (Chain::Decisions, 99),
        "{found}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_verifies_while_writers_and_the_signer_run_beside_it() {
    let (_dir, log, key) = signed_log().await;
    let writing = {
        let log = log.clone();
        let key = key.clone();
        tokio::spawn(async move {
            for i in 0..300 {
                let appended = log
                    .append(append(&format!("s/{}", i % 3), &format!("w{i}")))
                    .await
                    .expect("append");
                // Each decision names the newest event, which a check that
                // began earlier has not walked.
                let record = DecisionRecord {
                    nhs_number: format!("94347659{:02}", i % 100),
                    decision_id: format!("w{i}"),
                    review_due_by: (i % 2 == 0).then(Default::default),
                    log_position: appended.last_position,
                    ..Default::default()
                };
                log.record(vec![record]).await.expect("record");
                if i % 50 == 0 {
                    log.checkpoint(&key).await.expect("sign");
                }
            }
        })
    };
    let mut checks = 0;
    while !writing.is_finished() {
        let log = log.clone();
        let verifying = key.verifying_key();
        let outcome = tokio::task::spawn_blocking(move || log.verify(Some(&verifying)))
            .await
            .expect("joined")
            .expect("readable");
        outcome.unwrap_or_else(|broken| panic!("a growing log does not verify: {broken}"));
        checks += 1;
    }
    writing.await.expect("writer");
    assert!(checks > 1, "the check ran beside the writers");
    let verified = log.verify(Some(&key.verifying_key())).expect("readable");
    assert_eq!(verified.expect("verifies").events, 306);
}

#[tokio::test]
async fn a_stopped_check_concludes_nothing() {
    let (_dir, log, key) = signed_log().await;
    let stop = std::sync::atomic::AtomicBool::new(true);
    let outcome = log.verify_until_stopped(Some(&key.verifying_key()), &stop);
    assert!(matches!(outcome, Err(LogError::Stopped)), "{outcome:?}");
}

#[tokio::test]
async fn a_request_record_naming_positions_past_the_head_is_checked() {
    // Past the head a writer may be adding events while a check runs, but
    // a request record must still agree with the events it names.
    let (_dir, log, key) = signed_log().await;
    let mut record = log
        .inner
        .tree
        .get(keys::request("r1"))
        .expect("read")
        .map(|v| crate::append::RequestRecord::decode(v.as_ref()).expect("decodes"))
        .expect("stored");
    (record.first_position, record.last_position) = (99, 99);
    log.inner
        .tree
        .insert(keys::request("forged"), record.encode_to_vec())
        .expect("plant");
    let found = broken(&log, &key);
    assert_eq!(
        (found.chain, found.position),
        (Chain::Events, 99),
        "{found}"
    );
    assert!(found.reason.contains("forged"), "{found}");
}

#[tokio::test]
async fn the_tail_after_a_trusted_hash_is_checked_on_its_own() {
    let (_dir, log, _) = signed_log().await;
    let at_three = log
        .read_from(3, 1)
        .await
        .expect("read")
        .remove(0)
        .chain_hash;
    let tail = |hash: &[u8]| log.verify_events_after(3, hash).expect("readable");
    assert_eq!(tail(&at_three).expect("verifies"), 6);
    assert_eq!(tail(&[0; 32]).expect_err("another start").position, 4);
    assert_eq!(
        log.verify_events_after(6, &[0; 32]).expect("readable").ok(),
        Some(6)
    );

    let tree = &log.inner.tree;
    let mut bytes = tree
        .get(event_key(5))
        .expect("get")
        .expect("event")
        .to_vec();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    tree.insert(event_key(5), bytes).expect("tamper");
    assert_eq!(tail(&at_three).expect_err("damaged").position, 5);
    tree.remove(event_key(5)).expect("remove");
    assert_eq!(tail(&at_three).expect_err("a gap").position, 5);
}

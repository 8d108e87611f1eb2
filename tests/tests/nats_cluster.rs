//! The JetStream properties the JetStream backend will rely on, checked
//! against a real three-node cluster of the pinned nats-server 2.15.1
//! (`scripts/nats-server.sh`, `ICR_NATS_SERVER`) with `async-nats`:
//! the documented stream settings read back as set; a publish whose
//! `Nats-Expected-Last-Subject-Sequence` does not match is refused and takes
//! no sequence number; after SIGKILL of the stream's leader a new leader is
//! elected and every acknowledged message is still there, gapless.

use std::time::{Duration, Instant};

use async_nats::jetstream::context::{Context, PublishErrorKind};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::stream::{Config, StorageType, Stream};
use icr_integration_tests::nats_cluster::{NatsCluster, nats_server_binary_from};

/// The stream under test, one subject per event stream below `events.`.
const STREAM: &str = "EVENTS";
/// How long a step may take to recover on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(60);

/// The settings the service documents for its streams.
fn documented_config() -> Config {
    Config {
        name: STREAM.into(),
        subjects: vec!["events.>".into()],
        storage: StorageType::File,
        num_replicas: 3,
        deny_delete: true,
        deny_purge: true,
        allow_atomic_publish: true,
        // No limits: any removal would leave a gap in positions.
        max_age: Duration::ZERO,
        max_bytes: -1,
        max_messages: -1,
        max_messages_per_subject: -1,
        ..Config::default()
    }
}

/// A JetStream context over a client of the given nodes, with a timeout
/// generous enough for a loaded machine.
async fn jetstream(urls: &[String]) -> (async_nats::Client, Context) {
    let client = async_nats::connect(urls)
        .await
        .expect("connect to the NATS cluster");
    let mut context = async_nats::jetstream::new(client.clone());
    context.set_timeout(Duration::from_secs(10));
    (client, context)
}

/// Publishes `payload` on `subject` expecting the subject's last sequence to
/// be `expected`; the acknowledged stream sequence, or the refusal's kind.
async fn publish(
    js: &Context,
    subject: &str,
    expected: u64,
    payload: &str,
) -> Result<u64, PublishErrorKind> {
    let message = PublishMessage::build()
        .payload(payload.to_owned().into())
        .expected_last_subject_sequence(expected);
    let ack = js
        .send_publish(subject.to_owned(), message)
        .await
        .map_err(|e| e.kind())?;
    ack.await.map(|a| a.sequence).map_err(|e| e.kind())
}

/// The message at `sequence`, retried until [`PATIENCE`] runs out (a leader
/// may be in election).
async fn read(stream: &Stream, sequence: u64) -> (u64, String) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match stream.get_raw_message(sequence).await {
            Ok(m) => return (m.sequence, String::from_utf8_lossy(&m.payload).into_owned()),
            Err(e) if Instant::now() < deadline => {
                eprintln!("read {sequence}: {e}; retrying");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => panic!("message {sequence} unreadable after {PATIENCE:?}: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_three_node_cluster_keeps_every_acknowledged_message_gapless_through_a_leader_kill() {
    let started = Instant::now();
    let mut cluster = tokio::task::block_in_place(NatsCluster::start);
    let (client, js) = jetstream(&cluster.client_urls()).await;
    assert_eq!(client.server_info().version, "2.15.1", "the pinned engine");
    for node in 0..3 {
        let config = &cluster.jsz(node)["config"];
        assert_eq!(
            config["sync_always"], true,
            "node {node} syncs before it acknowledges: {config}"
        );
    }

    // The documented settings read back as set.
    let mut stream = js
        .create_stream(documented_config())
        .await
        .expect("create the stream");
    let config = stream.info().await.expect("stream info").config.clone();
    assert_eq!(config.storage, StorageType::File);
    assert_eq!(config.num_replicas, 3);
    assert!(config.deny_delete && config.deny_purge, "{config:?}");
    assert!(config.allow_atomic_publish, "{config:?}");
    assert_eq!(config.max_age, Duration::ZERO);
    assert_eq!((config.max_bytes, config.max_messages), (-1, -1));
    assert_eq!(config.max_messages_per_subject, -1);

    // Per-subject optimistic concurrency: a stale expectation is refused and
    // takes no sequence number.
    assert_eq!(publish(&js, "events.a", 0, "a1").await, Ok(1));
    assert_eq!(publish(&js, "events.b", 0, "b1").await, Ok(2));
    assert_eq!(
        publish(&js, "events.a", 0, "a-stale").await,
        Err(PublishErrorKind::WrongLastSequence)
    );
    assert_eq!(
        publish(&js, "events.a", 1, "a2").await,
        Ok(3),
        "gapless after a refusal"
    );
    let state = stream.info().await.expect("stream info").state.clone();
    assert_eq!(
        (state.messages, state.last_sequence),
        (3, 3),
        "the refused message is not stored"
    );

    // Nothing acknowledged can be removed.
    assert!(
        stream.delete_message(1).await.is_err(),
        "deny_delete refuses a delete"
    );
    assert!(stream.purge().await.is_err(), "deny_purge refuses a purge");

    // More acknowledged writes, each against the subject's last sequence.
    let mut acknowledged = vec![
        (1, "a1".to_owned()),
        (2, "b1".to_owned()),
        (3, "a2".to_owned()),
    ];
    let mut last_a = 3;
    for i in 0..20 {
        let payload = format!("a{}", i + 3);
        let sequence = publish(&js, "events.a", last_a, &payload)
            .await
            .expect("acknowledged");
        assert_eq!(sequence, acknowledged.len() as u64 + 1, "gapless");
        acknowledged.push((sequence, payload));
        last_a = sequence;
    }
    drop(client);

    // SIGKILL the stream's leader; the survivors elect a new one.
    let leader = stream
        .info()
        .await
        .expect("stream info")
        .cluster
        .clone()
        .and_then(|c| c.leader);
    let leader = leader.expect("the stream reports its leader");
    let killed = cluster
        .node_named(&leader)
        .expect("the leader is one of ours");
    cluster.kill(killed);
    tokio::task::block_in_place(|| cluster.wait_ready(2));
    let survivors: Vec<String> = (0..3)
        .filter(|&n| n != killed)
        .map(|n| cluster.client_url(n))
        .collect();
    let (client, js) = jetstream(&survivors).await;
    // Asked while there is no stream leader, a request goes unanswered until
    // its timeout: poll with short requests, within the same patience.
    let mut poll = async_nats::jetstream::new(client);
    poll.set_timeout(Duration::from_secs(2));
    let deadline = Instant::now() + PATIENCE;
    loop {
        let new_leader = match poll.get_stream(STREAM).await {
            Ok(mut stream) => match stream.info().await {
                Ok(info) => info.cluster.clone().and_then(|c| c.leader),
                Err(e) => {
                    eprintln!("stream info: {e}");
                    None
                }
            },
            Err(e) => {
                eprintln!("get stream: {e}");
                None
            }
        };
        match new_leader {
            Some(l) if l != leader => break,
            _ => {
                assert!(
                    Instant::now() < deadline,
                    "no new stream leader within {PATIENCE:?}"
                );
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    }
    let mut stream = js
        .get_stream(STREAM)
        .await
        .expect("the stream after failover");

    // Every acknowledged message is readable, at its sequence, in order.
    for (sequence, payload) in &acknowledged {
        assert_eq!(read(&stream, *sequence).await, (*sequence, payload.clone()));
    }
    let state = stream.info().await.expect("stream info").state.clone();
    assert_eq!(state.last_sequence, acknowledged.len() as u64);
    assert_eq!(
        state.messages,
        acknowledged.len() as u64,
        "no message lost, none extra"
    );
    // The new leader goes on from the next gapless sequence.
    let next = acknowledged.len() as u64 + 1;
    assert_eq!(publish(&js, "events.a", last_a, "after").await, Ok(next));
    assert_eq!(
        publish(&js, "events.a", last_a, "stale").await,
        Err(PublishErrorKind::WrongLastSequence)
    );
    eprintln!(
        "nats_cluster: {} messages, leader {leader} killed, took {:?}",
        next,
        started.elapsed()
    );
}

#[test]
fn without_the_pinned_binary_the_cluster_tests_say_how_to_install_it() {
    let unset = nats_server_binary_from(None).expect_err("no variable, no binary");
    assert_eq!(
        unset,
        "ICR_NATS_SERVER is not set: the JetStream cluster tests need the pinned nats-server \
         2.15.1. Install it with `bash scripts/nats-server.sh` and run the tests with \
         ICR_NATS_SERVER=<the path it prints>"
    );
    let dir = tempfile::tempdir().expect("temporary directory");
    let missing = dir.path().join("nats-server");
    let wrong = nats_server_binary_from(Some(missing.clone().into())).expect_err("no such file");
    assert_eq!(
        wrong,
        format!(
            "ICR_NATS_SERVER={} names no file: run `bash scripts/nats-server.sh` and set \
             ICR_NATS_SERVER to the path it prints",
            missing.display()
        )
    );
}

//! The log heads and the replay resume rules, from a client's point of
//! view: heads are the last items' positions and hashes, a replay from one
//! past a head is caught up at once at that head, and resuming from one
//! past the last message received (or from where a shutdown said) repeats
//! nothing and misses nothing.

use std::time::Duration;

use icr_integration_tests::*;
use icr_proto::pb::*;
use tonic::{Code, Streaming};

/// The next message, failing the test if none comes within a few seconds.
async fn next<T>(stream: &mut Streaming<T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await
        .expect("a message in time")
        .expect("stream ok")
        .expect("stream open")
}

async fn heads(server: &mut Server) -> (LogHead, LogHead) {
    let heads = server
        .audit
        .get_log_heads(GetLogHeadsRequest {})
        .await
        .expect("heads")
        .into_inner();
    (
        heads.events.expect("event head"),
        heads.decisions.expect("decision head"),
    )
}

async fn read_events(
    server: &mut Server,
    request: ReadEventsRequest,
) -> Streaming<ReadEventsResponse> {
    server
        .audit
        .read_events(request)
        .await
        .expect("read events")
        .into_inner()
}

async fn read_decisions(
    server: &mut Server,
    request: ReadDecisionsRequest,
) -> Streaming<ReadDecisionsResponse> {
    server
        .audit
        .read_decisions(request)
        .await
        .expect("read decisions")
        .into_inner()
}

/// Events up to the stream's end (no follow), and its caught-up position.
async fn events_to_end(
    stream: &mut Streaming<ReadEventsResponse>,
) -> (Vec<RecordedEvent>, Option<u64>) {
    let (mut events, mut caught_up) = (Vec::new(), None);
    while let Some(message) = stream.message().await.expect("message") {
        events.extend(message.event);
        caught_up = caught_up.or(message.caught_up.map(|c| c.position));
    }
    (events, caught_up)
}

/// Records up to the stream's end (no follow), and its caught-up position.
async fn records_to_end(
    stream: &mut Streaming<ReadDecisionsResponse>,
) -> (Vec<DecisionRecord>, Option<u64>) {
    let (mut records, mut caught_up) = (Vec::new(), None);
    while let Some(message) = stream.message().await.expect("message") {
        records.extend(message.record);
        caught_up = caught_up.or(message.caught_up.map(|c| c.position));
    }
    (records, caught_up)
}

#[tokio::test]
async fn the_heads_are_the_last_items_positions_and_chain_hashes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    let (events, decisions) = heads(&mut server).await;
    let log = server.all_events().await;
    let last = log.last().expect("the policy pack's events");
    assert_eq!(events.position, last.position);
    assert_eq!(events.chain_hash, last.chain_hash);
    assert_eq!(events.chain_hash.len(), 32);
    assert_eq!(events.recorded_at, last.recorded_at);
    assert_eq!(
        decisions,
        LogHead::default(),
        "no decision yet: position 0, no hash"
    );

    server.admit(PATIENT).await;
    server
        .authorize(PATIENT, clinician(), RecordSection::Medications)
        .await;
    let asked = server
        .authorize(OTHER_PATIENT, clinician(), RecordSection::Medications)
        .await;
    let (grown, decisions) = heads(&mut server).await;
    let log = server.all_events().await;
    let last = log.last().expect("events");
    assert_eq!(
        (grown.position, &grown.chain_hash),
        (last.position, &last.chain_hash)
    );
    assert!(grown.position > events.position, "heads only grow");
    let mut trail = read_decisions(&mut server, ReadDecisionsRequest::default()).await;
    let (records, caught_up) = records_to_end(&mut trail).await;
    let record = records.last().expect("records");
    assert_eq!(record.decision_id, asked.decision_id);
    assert_eq!(decisions.position, 2);
    assert_eq!(decisions.chain_hash, record.chain_hash);
    assert_eq!(decisions.recorded_at, record.recorded_at);
    assert_eq!(caught_up, Some(2), "a full replay is caught up at the head");
}

#[tokio::test]
async fn a_replay_from_one_past_a_head_is_caught_up_at_once_at_that_head() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    server.admit(PATIENT).await;
    server
        .authorize(PATIENT, clinician(), RecordSection::Medications)
        .await;
    let (events, decisions) = heads(&mut server).await;

    let mut stream = read_events(
        &mut server,
        ReadEventsRequest {
            from_position: events.position + 1,
            follow: true,
            ..Default::default()
        },
    )
    .await;
    let first = next(&mut stream).await;
    assert_eq!(first.event, None);
    assert_eq!(
        first.caught_up,
        Some(CaughtUp {
            position: events.position
        })
    );
    let objected = server
        .consent
        .record_objection(Server::objection(PATIENT))
        .await
        .expect("object")
        .into_inner();
    let live = next(&mut stream).await.event.expect("the new event");
    assert_eq!(live.position, events.position + 1);
    assert_eq!(live.position, write_position(objected.result));

    let mut trail = read_decisions(
        &mut server,
        ReadDecisionsRequest {
            from_position: decisions.position + 1,
            ..Default::default()
        },
    )
    .await;
    let (records, caught_up) = records_to_end(&mut trail).await;
    assert!(records.is_empty());
    assert_eq!(caught_up, Some(decisions.position));

    // Started further past the head, the marker names from_position - 1:
    // the last position the replay was asked to look past, not the head.
    let mut ahead = read_events(
        &mut server,
        ReadEventsRequest {
            from_position: events.position + 10,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        events_to_end(&mut ahead).await,
        (vec![], Some(events.position + 9))
    );
}

#[tokio::test]
async fn resuming_from_one_past_the_last_message_repeats_nothing_and_misses_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    server.admit(PATIENT).await;
    for section in [RecordSection::Medications, RecordSection::Allergies] {
        server.authorize(PATIENT, clinician(), section).await;
    }
    let everything = server.all_events().await;

    // Stopped by a limit: resume from the last event's position plus one.
    let mut first = read_events(
        &mut server,
        ReadEventsRequest {
            limit: 5,
            ..Default::default()
        },
    )
    .await;
    let (mut seen, caught_up) = events_to_end(&mut first).await;
    assert_eq!(
        (seen.len(), caught_up),
        (5, None),
        "a limit ends before catching up"
    );
    let resume = seen.last().expect("events").position + 1;
    let mut rest = read_events(
        &mut server,
        ReadEventsRequest {
            from_position: resume,
            ..Default::default()
        },
    )
    .await;
    let (more, caught_up) = events_to_end(&mut rest).await;
    seen.extend(more);
    assert_eq!(seen, everything, "no gap, no repeat");
    let (events, _) = heads(&mut server).await;
    assert_eq!(caught_up, Some(events.position));

    // Filtered to a patient whose last event is long past: the marker, not
    // the last event, says how far the replay looked.
    let only = |from_position| ReadEventsRequest {
        from_position,
        nhs_number: OTHER_PATIENT.into(),
        ..Default::default()
    };
    server.admit(OTHER_PATIENT).await;
    server
        .consent
        .record_objection(Server::objection(PATIENT))
        .await
        .expect("object");
    let mut filtered = read_events(&mut server, only(0)).await;
    let (theirs, caught_up) = events_to_end(&mut filtered).await;
    let caught_up = caught_up.expect("caught up");
    assert!(theirs.last().expect("their events").position < caught_up);
    server
        .consent
        .record_objection(Server::objection(OTHER_PATIENT))
        .await
        .expect("object");
    let mut resumed = read_events(&mut server, only(caught_up + 1)).await;
    let (new, _) = events_to_end(&mut resumed).await;
    let types: Vec<_> = new.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, ["ObjectionRecorded"], "only what came since");

    // The decision trail, the same way.
    let mut trail = read_decisions(
        &mut server,
        ReadDecisionsRequest {
            limit: 1,
            ..Default::default()
        },
    )
    .await;
    let (mut records, _) = records_to_end(&mut trail).await;
    let resume = records.last().expect("a record").audit_position + 1;
    let mut rest = read_decisions(
        &mut server,
        ReadDecisionsRequest {
            from_position: resume,
            ..Default::default()
        },
    )
    .await;
    records.extend(records_to_end(&mut rest).await.0);
    let positions: Vec<_> = records.iter().map(|r| r.audit_position).collect();
    assert_eq!(positions, [1, 2]);
}

#[tokio::test]
async fn a_live_replay_ended_by_shutdown_resumes_where_the_status_says() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    server.admit(PATIENT).await;
    let mut stream = read_events(
        &mut server,
        ReadEventsRequest {
            follow: true,
            ..Default::default()
        },
    )
    .await;
    let mut last = 0;
    loop {
        let message = next(&mut stream).await;
        if message.caught_up.is_some() {
            break;
        }
        last = message.event.expect("event").position;
    }
    server
        .consent
        .record_objection(Server::objection(PATIENT))
        .await
        .expect("object");
    last = next(&mut stream)
        .await
        .event
        .expect("live event")
        .position
        .max(last);

    let stopping = tokio::spawn(server.stop());
    let ended = tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await
        .expect("the stream ends at shutdown");
    let status = ended.expect_err("ended by the shutdown");
    assert_eq!(status.code(), Code::Unavailable);
    let resume = last + 1;
    assert_eq!(
        status.message(),
        format!("the service is shutting down; resume from position {resume}")
    );
    stopping.await.expect("join").expect("clean stop");

    let mut server = Server::start(dir.path()).await;
    let withdrawn = server
        .consent
        .withdraw_objection(WithdrawObjectionRequest {
            request_id: request_id(),
            nhs_number: PATIENT.into(),
            scope: ObjectionScope::DirectCare.into(),
            submitter: Server::objection(PATIENT).submitter,
            user_id: "pals-officer".into(),
            expected_stream_version: None,
        })
        .await
        .expect("withdraw")
        .into_inner();
    let mut resumed = read_events(
        &mut server,
        ReadEventsRequest {
            from_position: resume,
            ..Default::default()
        },
    )
    .await;
    let (missed, caught_up) = events_to_end(&mut resumed).await;
    let positions: Vec<_> = missed.iter().map(|e| e.position).collect();
    assert_eq!(positions, [write_position(withdrawn.result)]);
    assert_eq!(positions, [resume], "nothing repeated, nothing missed");
    assert_eq!(caught_up, Some(resume));
    server.stop().await.expect("stop");
}

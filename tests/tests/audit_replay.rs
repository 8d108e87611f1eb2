//! Replay for auditors: filters, the caught-up marker, follow mode, and
//! resuming after a dropped stream with no gap and no duplicate.

use std::time::Duration;

use icr_integration_tests::*;
use icr_proto::pb::*;
use tonic::Code;
use tonic::Streaming;

/// The next message, failing the test if none comes within a few seconds.
async fn next<T>(stream: &mut Streaming<T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await
        .expect("a message in time")
        .expect("stream ok")
        .expect("stream open")
}

/// Events up to the caught-up marker, and the marker's position.
async fn catch_up(stream: &mut Streaming<ReadEventsResponse>) -> (Vec<RecordedEvent>, u64) {
    let mut events = Vec::new();
    loop {
        let message = next(stream).await;
        if let Some(caught_up) = message.caught_up {
            return (events, caught_up.position);
        }
        events.extend(message.event);
    }
}

async fn events(server: &mut Server, request: ReadEventsRequest) -> Vec<RecordedEvent> {
    let mut stream = server
        .audit
        .read_events(request)
        .await
        .expect("read events")
        .into_inner();
    let (events, _) = catch_up(&mut stream).await;
    assert!(
        stream.message().await.expect("end").is_none(),
        "without follow the stream ends at the marker"
    );
    events
}

fn positions(events: &[RecordedEvent]) -> Vec<u64> {
    events.iter().map(|e| e.position).collect()
}

#[tokio::test]
async fn a_dropped_replay_resumes_from_its_last_position_with_no_gap_or_repeat() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    server.admit(PATIENT).await;
    server.admit(OTHER_PATIENT).await;
    let everything = server.all_events().await;
    assert!(everything.len() > 10);

    // Read a few events, then drop the stream mid-way.
    let mut stream = server
        .audit
        .read_events(ReadEventsRequest {
            from_position: 1,
            ..Default::default()
        })
        .await
        .expect("read")
        .into_inner();
    let mut seen = Vec::new();
    for _ in 0..7 {
        seen.extend(next(&mut stream).await.event);
    }
    drop(stream);
    // Something is appended while the auditor is away.
    server
        .consent
        .record_objection(Server::objection(PATIENT))
        .await
        .expect("object");
    let resume = seen.last().expect("some events").position + 1;
    seen.extend(
        events(
            &mut server,
            ReadEventsRequest {
                from_position: resume,
                ..Default::default()
            },
        )
        .await,
    );
    let now = server.all_events().await;
    assert_eq!(positions(&seen), positions(&now), "no gap, no repeat");
    assert_eq!(now.len(), everything.len() + 1);
    assert!(
        seen.iter().all(|e| e.chain_hash.len() == 32),
        "every event carries its chain hash"
    );
}

#[tokio::test]
async fn follow_mode_says_when_it_caught_up_then_delivers_new_events_live() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    server.admit(PATIENT).await;
    let head = server.all_events().await.len() as u64;
    let mut stream = server
        .audit
        .read_events(ReadEventsRequest {
            follow: true,
            nhs_number: PATIENT.into(),
            ..Default::default()
        })
        .await
        .expect("follow")
        .into_inner();
    let (history, caught_up) = catch_up(&mut stream).await;
    assert_eq!(caught_up, head);
    assert_eq!(history.len(), 2, "registration and care relationship");
    assert!(
        history
            .iter()
            .all(|e| e.stream == format!("patient/{PATIENT}"))
    );

    // Another patient's event is filtered out; this patient's arrives live.
    server.admit(OTHER_PATIENT).await;
    let objected = server
        .consent
        .record_objection(Server::objection(PATIENT))
        .await
        .expect("object")
        .into_inner();
    let live = next(&mut stream).await.event.expect("a live event");
    assert_eq!(live.event_type, "ObjectionRecorded");
    assert_eq!(live.position, write_position(objected.result));
}

#[tokio::test]
async fn filters_by_type_stream_and_time_combine() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    server.admit(PATIENT).await;
    let all = server.all_events().await;
    let middle = all.last().expect("events").recorded_at;
    tokio::time::sleep(Duration::from_millis(5)).await;
    server.admit(OTHER_PATIENT).await;

    let registrations = events(
        &mut server,
        ReadEventsRequest {
            event_types: vec!["PatientRegistered".into()],
            ..Default::default()
        },
    )
    .await;
    let patients: Vec<_> = registrations.iter().map(|e| e.stream.clone()).collect();
    assert_eq!(
        patients,
        vec![
            format!("patient/{PATIENT}"),
            format!("patient/{OTHER_PATIENT}")
        ]
    );

    let later = events(
        &mut server,
        ReadEventsRequest {
            from_time: middle.map(|t| icr_proto::Timestamp {
                nanos: t.nanos + 1,
                ..t
            }),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(later.len(), 2, "only the second admission");
    assert!(later.iter().all(|e| e.stream.ends_with(OTHER_PATIENT)));
    let earlier = events(
        &mut server,
        ReadEventsRequest {
            to_time: later[0].recorded_at,
            stream: "role/R8000".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(earlier.len(), 1, "the pack's one R8000 role policy");
    assert_eq!(earlier[0].event_type, "RolePolicySet");

    let unknown = server
        .audit
        .read_events(ReadEventsRequest {
            event_types: vec!["Objection".into()],
            ..Default::default()
        })
        .await
        .expect_err("unknown type");
    assert_eq!(unknown.code(), Code::InvalidArgument);
    assert!(unknown.message().starts_with("event_types[0]"));
    let mismatch = server
        .audit
        .read_events(ReadEventsRequest {
            stream: "role/R8000".into(),
            nhs_number: PATIENT.into(),
            ..Default::default()
        })
        .await
        .expect_err("two streams");
    assert!(mismatch.message().starts_with("stream"));
}

#[tokio::test]
async fn the_decision_trail_follows_live_filtered_by_patient_and_resumes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    server.admit(PATIENT).await;
    server
        .authorize(PATIENT, clinician(), RecordSection::Medications)
        .await;
    server
        .authorize(OTHER_PATIENT, clinician(), RecordSection::Medications)
        .await;
    let mut stream = server
        .audit
        .read_decisions(ReadDecisionsRequest {
            follow: true,
            nhs_number: PATIENT.into(),
            ..Default::default()
        })
        .await
        .expect("follow decisions")
        .into_inner();
    let first = next(&mut stream).await.record.expect("the first view");
    assert_eq!(first.audit_position, 1);
    assert_eq!(
        next(&mut stream).await.caught_up,
        Some(CaughtUp { position: 2 })
    );
    server
        .authorize(OTHER_PATIENT, clinician(), RecordSection::Allergies)
        .await;
    let live = server
        .authorize(PATIENT, clinician(), RecordSection::Allergies)
        .await;
    let record = next(&mut stream).await.record.expect("live record");
    assert_eq!(record.decision_id, live.decision_id);
    assert_eq!(record.audit_position, 4);
    drop(stream);

    // Reconnecting after the last record seen gives what came since, once.
    let later = server
        .authorize(PATIENT, clinician(), RecordSection::Conditions)
        .await;
    let mut resumed = server
        .audit
        .read_decisions(ReadDecisionsRequest {
            from_position: record.audit_position + 1,
            nhs_number: PATIENT.into(),
            ..Default::default()
        })
        .await
        .expect("resume")
        .into_inner();
    let again = next(&mut resumed).await.record.expect("record");
    assert_eq!(again.decision_id, later.decision_id);
    assert!(next(&mut resumed).await.caught_up.is_some());
    assert!(resumed.message().await.expect("end").is_none());
}

#[tokio::test]
async fn a_live_replay_keeps_to_its_time_window_and_ends_at_shutdown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    server.admit(PATIENT).await;
    let now = jiff::Timestamp::now();
    let at = |offset: jiff::SignedDuration| {
        let t = now.checked_add(offset).expect("in range");
        icr_events::timestamp_to_proto(t)
    };

    // An end time soon: the live stream ends there though nothing came.
    let mut ending = server
        .audit
        .read_events(ReadEventsRequest {
            follow: true,
            to_time: Some(at(jiff::SignedDuration::from_millis(300))),
            ..Default::default()
        })
        .await
        .expect("window")
        .into_inner();
    catch_up(&mut ending).await;
    let end = tokio::time::timeout(Duration::from_secs(10), ending.message()).await;
    assert!(end.expect("ends in time").expect("ok").is_none());

    // A start time in the future: events recorded before it never arrive,
    // and shutting down ends the stream with where to resume.
    let mut waiting = server
        .audit
        .read_events(ReadEventsRequest {
            follow: true,
            from_time: Some(at(jiff::SignedDuration::from_hours(1))),
            ..Default::default()
        })
        .await
        .expect("future")
        .into_inner();
    let (none, _) = catch_up(&mut waiting).await;
    assert!(none.is_empty());
    server
        .consent
        .record_objection(Server::objection(PATIENT))
        .await
        .expect("object");
    let stopping = tokio::spawn(server.stop());
    let ended = tokio::time::timeout(Duration::from_secs(10), waiting.message())
        .await
        .expect("the stream ends at shutdown");
    let status = ended.expect_err("ended by the shutdown, not by an event");
    assert_eq!(status.code(), Code::Unavailable);
    assert!(status.message().contains("resume from position"));
    tokio::time::timeout(Duration::from_secs(10), stopping)
        .await
        .expect("the server stops despite a live replay")
        .expect("join")
        .expect("clean stop");
}

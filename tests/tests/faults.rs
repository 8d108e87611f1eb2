//! Injected faults against the real server: storage that fails appends,
//! decision records or reads; projections that lag; casbin errors (from a
//! model casbin cannot evaluate for some patients) and panics; a client
//! deadline that expires in the middle of a decision.
//!
//! For each: the answer is a deny or an error, never an allow; the service
//! goes on serving what it still can; and once the fault clears, the same
//! request succeeds. Each test prints what it observed (`fault outcome:`
//! lines, shown with `--nocapture`).

use std::path::Path;
use std::time::Duration;

use consent_service::faults::Faults;
use consent_service::{Options, PolicyFiles};
use icr_integration_tests::*;
use icr_proto::pb::*;
use tonic::{Code, Status};

#[path = "faults/evaluation.rs"]
mod evaluation;

/// Starts the service over `dir` with a fault switchboard.
async fn start(dir: &Path) -> (Server, Faults) {
    let faults = Faults::default();
    let mut options = Options::new(dir, PolicyFiles::built_in());
    options.faults = faults.clone();
    (Server::start_options(options).await, faults)
}

fn ask(min_log_position: u64) -> AuthorizeRequest {
    AuthorizeRequest {
        nhs_number: PATIENT.into(),
        requester: Some(clinician()),
        section: RecordSection::Medications.into(),
        purpose: Purpose::DirectCare.into(),
        min_log_position,
        ..Default::default()
    }
}

/// One Authorize of the clinician for `PATIENT`'s medications.
async fn authorize(server: &mut Server, min_log_position: u64) -> Result<Decision, Status> {
    let response = server.decisions.authorize(ask(min_log_position)).await?;
    Ok(response.into_inner().decision.expect("decision"))
}

/// Every decision record in the trail.
async fn trail(server: &mut Server) -> Result<Vec<DecisionRecord>, Status> {
    let request = ReadDecisionsRequest {
        from_position: 1,
        ..Default::default()
    };
    let mut stream = server.audit.read_decisions(request).await?.into_inner();
    let mut records = Vec::new();
    while let Some(item) = stream.message().await? {
        records.extend(item.record);
    }
    Ok(records)
}

/// Every event in the log, or the error reading it.
async fn events(server: &mut Server) -> Result<Vec<RecordedEvent>, Status> {
    let request = ReadEventsRequest {
        from_position: 1,
        ..Default::default()
    };
    let mut stream = server.audit.read_events(request).await?.into_inner();
    let mut events = Vec::new();
    while let Some(item) = stream.message().await? {
        events.extend(item.event);
    }
    Ok(events)
}

fn outcome(result: &Result<Decision, Status>) -> String {
    match result {
        Ok(d) if allowed(d) => "ALLOW".to_owned(),
        Ok(d) => format!("DENY {}", d.reason),
        Err(status) => format!("error {:?}", status.code()),
    }
}

/// The answer is a deny or an error, never an allow.
fn assert_not_allowed(what: &str, result: &Result<Decision, Status>) {
    println!("fault outcome: {what}: {}", outcome(result));
    assert!(
        !matches!(result, Ok(d) if allowed(d)),
        "{what}: allowed under the fault"
    );
}

#[tokio::test]
async fn failing_appends_refuse_writes_while_decisions_and_reads_go_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut server, faults) = start(dir.path()).await;
    server.admit(PATIENT).await;
    let before = events(&mut server).await.expect("events");

    faults.fail_appends(true);
    let objection = Server::objection(PATIENT);
    let refused = server.consent.record_objection(objection.clone()).await;
    let status = refused.expect_err("the write cannot be stored");
    println!(
        "fault outcome: append failing: RecordObjection error {:?}",
        status.code()
    );
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(status.message().contains("request_id"), "{status:?}");
    assert_eq!(events(&mut server).await.expect("reads go on"), before);
    // Decisions go on, on the state that was recorded: no objection.
    let decided = authorize(&mut server, 0).await;
    println!(
        "fault outcome: append failing: Authorize {}",
        outcome(&decided)
    );
    assert!(allowed(&decided.expect("decisions go on")));

    faults.clear();
    let retried = server.consent.record_objection(objection).await;
    let position = write_position(retried.expect("the retry is stored").into_inner().result);
    let decided = authorize(&mut server, position).await.expect("authorize");
    assert_eq!(decided.reason, "objection_active", "{decided:?}");
}

#[tokio::test]
async fn an_unrecordable_decision_is_an_error_never_an_unrecorded_allow() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut server, faults) = start(dir.path()).await;
    server.admit(PATIENT).await;
    let recorded = trail(&mut server).await.expect("trail").len();

    faults.fail_decision_records(true);
    assert_not_allowed("decision record failing", &authorize(&mut server, 0).await);
    assert_eq!(trail(&mut server).await.expect("trail").len(), recorded);
    // Writes do not need the decision audit.
    let objection = server
        .consent
        .record_objection(Server::objection(PATIENT))
        .await;
    let position = write_position(objection.expect("writes go on").into_inner().result);

    faults.clear();
    let decided = authorize(&mut server, position).await.expect("authorize");
    assert_eq!(decided.reason, "objection_active", "{decided:?}");
    let records = trail(&mut server).await.expect("trail");
    assert_eq!(records.len(), recorded + 1);
    assert_eq!(records[recorded].decision_id, decided.decision_id);
}

#[tokio::test]
async fn failing_reads_stop_replays_and_writes_while_decisions_go_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut server, faults) = start(dir.path()).await;
    server.admit(PATIENT).await;

    faults.fail_reads(true);
    let replay = events(&mut server).await;
    println!(
        "fault outcome: reads failing: ReadEvents {:?}",
        replay.as_ref().map(Vec::len).map_err(Status::code)
    );
    assert!(replay.is_err(), "a replay cannot be read");
    let write = server
        .consent
        .record_objection(Server::objection(PATIENT))
        .await;
    let status = write.expect_err("a write reads its stream first");
    println!(
        "fault outcome: reads failing: RecordObjection error {:?}",
        status.code()
    );
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    // Decisions come from the projections in memory.
    let decided = authorize(&mut server, 0).await;
    println!(
        "fault outcome: reads failing: Authorize {}",
        outcome(&decided)
    );
    assert!(allowed(&decided.expect("decisions go on")));

    faults.clear();
    assert!(events(&mut server).await.is_ok());
    let written = server
        .consent
        .record_objection(Server::objection(PATIENT))
        .await;
    let position = write_position(written.expect("write").into_inner().result);
    let decided = authorize(&mut server, position).await.expect("authorize");
    assert_eq!(decided.reason, "objection_active", "{decided:?}");
}

#[tokio::test]
async fn a_read_failure_in_the_follower_is_retried_not_a_stale_allow() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut server, faults) = start(dir.path()).await;
    server.admit(PATIENT).await;

    // The objection is durable while the follower is paused; it then meets
    // a failing read when it goes on.
    faults.pause_projections(true);
    let written = server
        .consent
        .record_objection(Server::objection(PATIENT))
        .await;
    let position = write_position(written.expect("write").into_inner().result);
    faults.fail_reads(true);
    faults.pause_projections(false);
    assert_not_allowed(
        "follower read failing",
        &authorize(&mut server, position).await,
    );

    faults.clear();
    let decided = authorize(&mut server, position).await.expect("authorize");
    assert_eq!(decided.reason, "objection_active", "{decided:?}");
}

#[tokio::test]
async fn lagging_projections_are_unavailable_never_a_stale_allow() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut server, faults) = start(dir.path()).await;
    server.admit(PATIENT).await;
    assert!(allowed(
        &authorize(&mut server, 0).await.expect("authorize")
    ));

    faults.pause_projections(true);
    let written = server
        .consent
        .record_objection(Server::objection(PATIENT))
        .await;
    let position = write_position(written.expect("durable").into_inner().result);
    // With and without the consistency token: the durable head binds both.
    assert_not_allowed(
        "projections paused, token",
        &authorize(&mut server, position).await,
    );
    assert_not_allowed(
        "projections paused, no token",
        &authorize(&mut server, 0).await,
    );
    // The log itself is still read.
    let replay = events(&mut server).await.expect("reads go on");
    assert_eq!(replay.last().map(|e| e.position), Some(position));

    faults.clear();
    let decided = authorize(&mut server, position).await.expect("authorize");
    assert_eq!(decided.reason, "objection_active", "{decided:?}");
}

#[tokio::test]
async fn a_token_past_the_head_is_out_of_range_and_a_lagging_one_unavailable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut server, faults) = start(dir.path()).await;
    let head = server.admit(PATIENT).await;

    // Nothing will reach a position past the head unless written: saying
    // "retry" would send the caller round in circles.
    let past = head + 5;
    let refused = authorize(&mut server, past)
        .await
        .expect_err("past the head");
    assert_eq!(refused.code(), Code::OutOfRange, "{refused:?}");
    assert_eq!(
        refused.message(),
        format!(
            "min_log_position {past} is past the log's head {head}: nothing will reach it \
             unless written; pass a log_position a write returned"
        )
    );
    let status = server
        .consent
        .get_consent_status(GetConsentStatusRequest {
            nhs_number: PATIENT.into(),
            min_log_position: past,
        })
        .await
        .expect_err("past the head");
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
    assert!(
        status.message().contains(&format!("head {head}")),
        "{status:?}"
    );

    // A position the log has but the projections have not applied: retry.
    faults.pause_projections(true);
    let written = server
        .consent
        .record_objection(Server::objection(PATIENT))
        .await;
    let position = write_position(written.expect("durable").into_inner().result);
    let lagging = authorize(&mut server, position).await.expect_err("lagging");
    assert_eq!(lagging.code(), Code::Unavailable, "{lagging:?}");
    assert!(lagging.message().ends_with("; retry"), "{lagging:?}");

    faults.clear();
    let decided = authorize(&mut server, position).await.expect("authorize");
    assert_eq!(decided.reason, "objection_active", "{decided:?}");
}

#[tokio::test]
async fn a_deadline_expiring_mid_decision_is_an_error_and_nothing_is_recorded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut server, faults) = start(dir.path()).await;
    server.admit(PATIENT).await;
    let recorded = trail(&mut server).await.expect("trail").len();
    // The held decision waits until released, so its deadline expires
    // whatever its length; the answered one's is generous for a busy host.
    let with_deadline = |deadline: Duration| {
        let mut request = tonic::Request::new(ask(0));
        request.set_timeout(deadline);
        request
    };

    faults.hold_decisions(true);
    let held = with_deadline(Duration::from_millis(200));
    let expired = server.decisions.authorize(held).await;
    let expired = expired.map(|r| r.into_inner().decision.expect("decision"));
    assert_not_allowed("deadline expired mid-decision", &expired);
    let code = expired.expect_err("no answer").code();
    assert!(
        matches!(code, Code::Cancelled | Code::DeadlineExceeded),
        "{code:?}"
    );
    // Reads go on while the decision is held.
    assert!(events(&mut server).await.is_ok());

    faults.clear();
    let in_time = with_deadline(Duration::from_secs(60));
    let answered = server.decisions.authorize(in_time).await;
    let answered = answered.expect("in time").into_inner().decision;
    let answered = answered.expect("decision");
    assert!(allowed(&answered));
    // Only the answered decision is in the trail: the abandoned one was
    // dropped before it was recorded.
    let records = trail(&mut server).await.expect("trail");
    let ids: Vec<_> = records[recorded..].iter().map(|r| &r.decision_id).collect();
    assert_eq!(ids, [&answered.decision_id]);
}

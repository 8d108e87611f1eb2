//! The privacy officer's review queue, point-in-time decisions, re-checks,
//! and the signed checkpoints an auditor verifies the replay against.

#[path = "audit_review/requests.rs"]
mod requests;

use icr_integration_tests::*;
use icr_log::ed25519_dalek::SigningKey;
use icr_log::{Verifier, chain};
use icr_proto::pb::*;
use requests::*;
use tonic::Code;

#[tokio::test]
async fn exceptional_accesses_wait_in_the_queue_until_reviewed_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    server.admit(PATIENT).await;
    permit_exceptional_access(&mut server).await;
    let glass = ask(&mut server, AccessMode::BreakGlass, "collapsed in A&E").await;
    assert!(allowed(&glass), "{}", glass.reason);
    let normal = ask(&mut server, AccessMode::Normal, "").await;
    assert!(!allowed(&normal), "no relationship: nothing to review");
    let claimed = ask(
        &mut server,
        AccessMode::SelfClaimedRelationship,
        "new referral",
    )
    .await;
    assert!(allowed(&claimed), "{}", claimed.reason);

    let glass_only = ReadDecisionsRequest {
        access_modes: vec![AccessMode::BreakGlass.into()],
        ..Default::default()
    };
    let mut stream = server
        .audit
        .read_decisions(glass_only)
        .await
        .expect("read")
        .into_inner();
    let mut found = Vec::new();
    while let Some(message) = stream.message().await.expect("message") {
        found.extend(message.record.map(|r| r.decision_id));
    }
    assert_eq!(found, vec![glass.decision_id.clone()]);

    let pending = queue(&mut server, false).await;
    let ids: Vec<_> = pending
        .iter()
        .map(|i| i.decision.as_ref().expect("decision").decision_id.clone())
        .collect();
    assert_eq!(
        ids,
        vec![glass.decision_id.clone(), claimed.decision_id.clone()]
    );
    let first = pending[0].decision.as_ref().expect("decision");
    let (recorded, due) = (
        first.recorded_at.expect("time"),
        first.review_due_by.expect("due"),
    );
    assert_eq!(
        due.seconds - recorded.seconds,
        7 * 86_400,
        "the region's 7 days"
    );

    let vague = server
        .audit
        .record_access_review(review(&glass.decision_id, ReviewOutcome::NotJustified, ""))
        .await
        .expect_err("a finding needs a note");
    assert!(vague.message().starts_with("note"));
    let not_queued = server
        .audit
        .record_access_review(review(&normal.decision_id, ReviewOutcome::Justified, ""))
        .await
        .expect_err("a normal deny is not reviewed");
    assert_eq!(not_queued.code(), Code::FailedPrecondition);

    let mut own = review(&glass.decision_id, ReviewOutcome::Justified, "");
    own.user_id = stranger().user_id;
    let own = server
        .audit
        .record_access_review(own)
        .await
        .expect_err("own");
    assert_eq!(
        own.code(),
        Code::FailedPrecondition,
        "no one reviews their own access"
    );
    let mut anonymous = review("unknown", ReviewOutcome::Justified, "");
    anonymous.request_id.clear();
    let anonymous = server
        .audit
        .record_access_review(anonymous)
        .await
        .expect_err("no id");
    assert!(
        anonymous.message().starts_with("request_id"),
        "checked before the trail"
    );

    let done = server
        .audit
        .record_access_review(review(&glass.decision_id, ReviewOutcome::Justified, ""))
        .await
        .expect("review")
        .into_inner();
    let again = server
        .audit
        .record_access_review(review(
            &glass.decision_id,
            ReviewOutcome::Referred,
            "second look",
        ))
        .await
        .expect_err("one final review");
    assert_eq!(again.code(), Code::AlreadyExists);

    // A referral keeps the access in the queue until its final outcome.
    let refer = review(
        &claimed.decision_id,
        ReviewOutcome::Referred,
        "ask the ward",
    );
    server
        .audit
        .record_access_review(refer)
        .await
        .expect("refer");
    let referred = queue(&mut server, false).await;
    assert_eq!(referred.len(), 1);
    let latest = referred[0].review.as_ref().expect("the referral");
    assert_eq!(latest.outcome, ReviewOutcome::Referred as i32);
    let last = review(
        &claimed.decision_id,
        ReviewOutcome::NotJustified,
        "no referral found",
    );
    server
        .audit
        .record_access_review(last)
        .await
        .expect("final outcome");
    assert!(queue(&mut server, false).await.is_empty(), "all reviewed");

    let all = queue(&mut server, true).await;
    assert_eq!(all.len(), 2);
    let last = all[1].review.as_ref().expect("final review");
    assert_eq!(last.outcome, ReviewOutcome::NotJustified as i32);
    let reviewed = all[0].review.as_ref().expect("the review");
    assert_eq!(reviewed.outcome, ReviewOutcome::Justified as i32);
    assert_eq!(
        reviewed.reviewer.as_ref().expect("reviewer").user_id,
        "privacy-officer"
    );
    assert_eq!(
        reviewed.event_position,
        write_position(done.result),
        "the review is an event in the log"
    );
}

#[tokio::test]
async fn a_past_decision_is_answered_from_the_log_as_it_stood_then() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    let before = server.admit(PATIENT).await;
    let live = server
        .authorize(PATIENT, clinician(), RecordSection::Medications)
        .await;
    assert!(allowed(&live));
    let objected = server
        .consent
        .record_objection(Server::objection(PATIENT))
        .await
        .expect("object")
        .into_inner();
    let after = write_position(objected.result);

    let then = at(&mut server, authorize_at_request::At::AtPosition(before)).await;
    assert!(allowed(&then), "{}", then.reason);
    assert_eq!(then.log_position, before);
    assert!(then.decision_id.is_empty(), "not an access: not recorded");
    let now = at(&mut server, authorize_at_request::At::AtPosition(after)).await;
    assert_eq!(now.reason, "objection_active");

    let events = server.all_events().await;
    let time_of = |p: u64| events[p as usize - 1].recorded_at.expect("time");
    let by_time = at(
        &mut server,
        authorize_at_request::At::AtTime(time_of(before)),
    )
    .await;
    assert!(allowed(&by_time));
    assert_eq!(by_time.log_position, before);
    let by_time = at(
        &mut server,
        authorize_at_request::At::AtTime(time_of(after)),
    )
    .await;
    assert_eq!(by_time.reason, "objection_active");

    // Re-checking the live decision at its own position agrees with it,
    // even though the patient has objected since.
    let recheck = server
        .audit
        .recheck_decision(RecheckDecisionRequest {
            decision_id: live.decision_id.clone(),
        })
        .await
        .expect("recheck")
        .into_inner();
    assert!(recheck.agrees, "{:?}", recheck.differences);
    assert_eq!(recheck.recheck.expect("decision").reason, live.reason);

    let trail_size = server
        .audit
        .get_access_report(GetAccessReportRequest {
            nhs_number: PATIENT.into(),
            ..Default::default()
        })
        .await
        .expect("report")
        .into_inner()
        .records
        .len();
    assert_eq!(trail_size, 1, "point-in-time questions are not accesses");

    let beyond = AuthorizeAtRequest {
        request: Some(AuthorizeRequest::default()),
        at: Some(authorize_at_request::At::AtPosition(after + 1)),
    };
    let error = server.audit.authorize_at(beyond).await.expect_err("bad");
    assert!(
        error.message().starts_with("request."),
        "{}",
        error.message()
    );
    let mut beyond = AuthorizeAtRequest {
        request: Some(AuthorizeRequest {
            nhs_number: PATIENT.into(),
            requester: Some(clinician()),
            section: RecordSection::Medications.into(),
            purpose: Purpose::DirectCare.into(),
            ..Default::default()
        }),
        at: Some(authorize_at_request::At::AtPosition(after + 1)),
    };
    let error = server
        .audit
        .authorize_at(beyond.clone())
        .await
        .expect_err("bad");
    assert!(
        error.message().starts_with("at_position"),
        "{}",
        error.message()
    );
    beyond.at = None;
    let error = server.audit.authorize_at(beyond).await.expect_err("bad");
    assert_eq!(error.code(), Code::InvalidArgument);
    let unknown = RecheckDecisionRequest {
        decision_id: "01J00000000000000000000000".into(),
    };
    let error = server
        .audit
        .recheck_decision(unknown)
        .await
        .expect_err("none");
    assert_eq!(error.code(), Code::FailedPrecondition);
}

#[tokio::test]
async fn a_replay_verifies_against_the_signed_checkpoints() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = SigningKey::generate(&mut rand_core::OsRng);
    let mut server = Server::start_signed(dir.path(), key.clone()).await;
    server.admit(PATIENT).await;
    server
        .authorize(PATIENT, clinician(), RecordSection::Medications)
        .await;
    let head = server.all_events().await.len() as u64;
    // Checkpoints are signed every 100 ms while the log grows.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let checkpoints = loop {
        assert!(std::time::Instant::now() < deadline, "no checkpoint came");
        let page = server
            .audit
            .list_checkpoints(ListCheckpointsRequest::default())
            .await
            .expect("checkpoints")
            .into_inner()
            .checkpoints;
        if page
            .last()
            .is_some_and(|c| c.event_position == head && c.audit_position == 1)
        {
            break page;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let public = key.verifying_key();
    let mut verifier = Verifier::new(Some(&public), &checkpoints).expect("signed by the key");
    for event in server.all_events().await {
        let bytes = chain::event_bytes(&event);
        verifier
            .event(event.position, event.position, &bytes, &event.chain_hash)
            .expect("event chains");
    }
    let records = server
        .audit
        .get_access_report(GetAccessReportRequest {
            nhs_number: PATIENT.into(),
            ..Default::default()
        })
        .await
        .expect("report")
        .into_inner()
        .records;
    let record = &records[0];
    verifier
        .decision(1, 1, &chain::decision_bytes(record), &record.chain_hash)
        .expect("decision chains");
    let verified = verifier.finish().expect("verified");
    assert_eq!((verified.events, verified.decisions), (head, 1));
    assert_eq!(verified.signed_events, head);

    let stranger = SigningKey::from_bytes(&[9; 32]).verifying_key();
    let forged = Verifier::new(Some(&stranger), &checkpoints)
        .err()
        .expect("wrong key");
    assert_eq!(forged.position, 1, "the first checkpoint fails");
}

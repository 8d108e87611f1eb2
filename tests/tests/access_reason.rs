//! The reason for exceptional access: empty and blank (whitespace only) are
//! the same thing, no reason, and break glass or a self-claimed
//! relationship without one is a recorded deny, never an error.

use icr_integration_tests::*;
use icr_proto::pb::*;
use tonic::Code;

/// A clinician at a trust with no recorded relationship with the patient.
fn stranger() -> Requester {
    Requester {
        user_id: "dr-ed".into(),
        role_code: "R8000".into(),
        organisation_ods: "RLT".into(),
    }
}

fn question(mode: AccessMode, reason: &str) -> AuthorizeRequest {
    AuthorizeRequest {
        nhs_number: PATIENT.into(),
        requester: Some(stranger()),
        section: RecordSection::Allergies.into(),
        purpose: Purpose::DirectCare.into(),
        access_mode: mode.into(),
        access_reason: reason.into(),
        ..Default::default()
    }
}

/// A server where the patient is registered and the region allows both
/// kinds of exceptional access.
async fn exceptional_access_allowed(dir: &std::path::Path) -> Server {
    let mut server = Server::start(dir).await;
    server.admit(PATIENT).await;
    server
        .policy
        .set_region_policy(exceptional_access_region_policy())
        .await
        .expect("region policy");
    server
}

/// The decision audit's record of `decision_id`.
async fn recorded(server: &mut Server, decision_id: &str) -> DecisionRecord {
    let mut stream = server
        .audit
        .read_decisions(ReadDecisionsRequest::default())
        .await
        .expect("read decisions")
        .into_inner();
    while let Some(message) = stream.message().await.expect("record") {
        if let Some(record) = message.record.filter(|r| r.decision_id == decision_id) {
            return record;
        }
    }
    panic!("decision {decision_id} is not in the audit trail")
}

const BLANK: [&str; 5] = ["", " ", "   ", "\t", " \t\r\n "];

#[tokio::test]
async fn a_blank_reason_is_no_reason_a_recorded_deny_for_exceptional_access() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = exceptional_access_allowed(dir.path()).await;
    for mode in [AccessMode::BreakGlass, AccessMode::SelfClaimedRelationship] {
        let given = server
            .decisions
            .authorize(question(mode, "unconscious at the roadside"))
            .await
            .expect("authorize")
            .into_inner()
            .decision
            .expect("decision");
        assert!(allowed(&given), "{mode:?} with a reason: {}", given.reason);
        for reason in BLANK {
            let decision = server
                .decisions
                .authorize(question(mode, reason))
                .await
                .unwrap_or_else(|e| panic!("{mode:?} with {reason:?} is no error: {e:?}"))
                .into_inner()
                .decision
                .expect("decision");
            assert_eq!(decision.outcome, Outcome::Deny as i32, "{reason:?}");
            assert_eq!(decision.reason, "access_reason_missing", "{reason:?}");
            let record = recorded(&mut server, &decision.decision_id).await;
            assert!(!record.allowed);
            assert_eq!(record.reason, "access_reason_missing");
            assert_eq!(record.access_mode, mode as i32);
            assert_eq!(record.access_reason, "", "recorded as no reason");
        }
    }

    // A batch and a question asked of the past say the same.
    let batch = AuthorizeBatchRequest {
        nhs_number: PATIENT.into(),
        requester: Some(stranger()),
        sections: vec![
            RecordSection::Allergies.into(),
            RecordSection::Medications.into(),
        ],
        purpose: Purpose::DirectCare.into(),
        access_mode: AccessMode::BreakGlass.into(),
        access_reason: "\t".into(),
        ..Default::default()
    };
    let decisions = server
        .decisions
        .authorize_batch(batch)
        .await
        .expect("batch")
        .into_inner()
        .decisions;
    assert_eq!(decisions.len(), 2);
    for decision in &decisions {
        assert_eq!(decision.reason, "access_reason_missing");
        let record = recorded(&mut server, &decision.decision_id).await;
        assert_eq!(record.reason, "access_reason_missing");
    }
    let head = server.all_events().await.len() as u64;
    let at = AuthorizeAtRequest {
        request: Some(question(AccessMode::BreakGlass, "  ")),
        at: Some(authorize_at_request::At::AtPosition(head)),
    };
    let past = server
        .audit
        .authorize_at(at)
        .await
        .expect("authorize at")
        .into_inner()
        .decision
        .expect("decision");
    assert_eq!(past.reason, "access_reason_missing");
}

#[tokio::test]
async fn a_blank_reason_does_not_stand_in_the_way_of_normal_access() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = exceptional_access_allowed(dir.path()).await;
    for reason in BLANK {
        let mut asked = question(AccessMode::Normal, reason);
        asked.requester = Some(clinician());
        let decision = server
            .decisions
            .authorize(asked)
            .await
            .expect("authorize")
            .into_inner()
            .decision
            .expect("decision");
        assert!(allowed(&decision), "{reason:?}: {}", decision.reason);
        let record = recorded(&mut server, &decision.decision_id).await;
        assert_eq!(record.access_reason, "");
    }
}

#[tokio::test]
async fn a_reason_with_words_and_a_control_character_is_refused_naming_the_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = exceptional_access_allowed(dir.path()).await;
    let refused = server
        .decisions
        .authorize(question(AccessMode::BreakGlass, "fell\tdown the stairs"))
        .await
        .expect_err("a control character inside a reason");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(
        refused.message(),
        "access_reason: must not contain control characters"
    );
    let long = "r".repeat(1025);
    let refused = server
        .decisions
        .authorize(question(AccessMode::BreakGlass, &long))
        .await
        .expect_err("too long");
    assert_eq!(
        refused.message(),
        "access_reason: must be at most 1024 bytes"
    );
    let mut trail = server
        .audit
        .read_decisions(ReadDecisionsRequest::default())
        .await
        .expect("read")
        .into_inner();
    let mut records = 0;
    while let Some(message) = trail.message().await.expect("record") {
        records += usize::from(message.record.is_some());
    }
    assert_eq!(records, 0, "a refused request decides and records nothing");
}

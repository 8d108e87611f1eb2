//! Bad input gets a clear error and nothing is lost, for the decision and
//! consent services: every validation error is `InvalidArgument` with a
//! message that starts with the field's path, appends nothing, and leaves
//! the server answering. Care and policy RPCs: `validation_care_policy.rs`.

#[path = "validation/requests.rs"]
mod requests;

use icr_integration_tests::*;
use icr_proto::pb::*;
use requests::*;
use tonic::Code;

/// Wrong check digit, short, long, a letter, blank, and groupings other
/// than the 3-3-4 of NHS letters (which are read as the ten digits).
const BAD_NHS: [&str; 8] = [
    "9434765918",
    "943476591",
    "94347659190",
    "94347A5919",
    "",
    "9434 765 919",
    "943-476 5919",
    " 9434765919",
];

/// Blank, only spaces, too long (129 bytes), a control character.
fn bad_ids() -> Vec<String> {
    vec![String::new(), "   ".into(), "x".repeat(129), "dr\n1".into()]
}

/// Every (field, bad request) pair, one per line.
#[rustfmt::skip]
fn cases() -> Vec<(&'static str, Call)> {
    let mut c: Vec<(&'static str, Call)> = Vec::new();
    macro_rules! nhs {
        ($($ctor:ident),+) => {$(for bad in BAD_NHS {
            c.push(("nhs_number", $ctor(|r| r.nhs_number = bad.into())));
        })+};
    }
    macro_rules! ids {
        ($field:ident: $($ctor:ident),+) => {$(for bad in bad_ids() {
            c.push((stringify!($field), $ctor(|r| r.$field = bad)));
        })+};
    }
    nhs!(authorize, batch, object, withdraw, status, attorney, revoke_attorney, grant, revoke_grant);
    ids!(request_id: object, withdraw, attorney, revoke_attorney, grant, revoke_grant);
    ids!(user_id: object, withdraw, attorney, revoke_attorney, grant, revoke_grant);
    ids!(attorney_id: attorney, revoke_attorney);
    ids!(verified_by: attorney);

    // AccessDecisionService: the requester, the enums, the optional source.
    let who = |edit: fn(&mut Requester)| {
        let mut r = clinician();
        edit(&mut r);
        Some(r)
    };
    let direct = Purpose::DirectCare as i32;
    let questions: [(&'static str, Option<Requester>, i32, &'static str); 10] = [
        ("requester", None, direct, ""),
        ("requester.user_id", who(|r| r.user_id = " ".into()), direct, ""),
        ("requester.role_code", who(|r| r.role_code = "r8000".into()), direct, ""),
        ("requester.role_code", who(|r| r.role_code = "R".into()), direct, ""),
        ("requester.organisation_ods", who(|r| r.organisation_ods = "R KB".into()), direct, ""),
        ("requester.organisation_ods", who(|r| r.organisation_ods = "RK".into()), direct, ""),
        ("purpose", Some(clinician()), 0, ""),
        ("purpose", Some(clinician()), 99, ""),
        ("source_organisation_ods", Some(clinician()), direct, "rk-b"),
        ("source_organisation_ods", Some(clinician()), direct, "R"),
    ];
    for (field, requester, purpose, source) in questions {
        let same = requester.clone();
        c.push((field, authorize(|r| (r.requester, r.purpose, r.source_organisation_ods) = (same, purpose, source.into()))));
        c.push((field, batch(|r| (r.requester, r.purpose, r.source_organisation_ods) = (requester, purpose, source.into()))));
    }
    for bad in [0, 99] {
        c.push(("section", authorize(|r| r.section = bad)));
        c.push(("sections[1]", batch(|r| r.sections[1] = bad)));
    }
    c.push(("sections", batch(|r| r.sections.clear())));
    c.push(("sections", batch(|r| r.sections = vec![RecordSection::Medications.into(); 65])));

    // ConsentService.
    for bad in [0, 99] {
        c.push(("scope", object(|r| r.scope = bad)));
        c.push(("scope", withdraw(|r| r.scope = bad)));
        c.push(("kind", attorney(|r| r.kind = bad)));
    }
    c.push(("submitter", object(|r| r.submitter = None)));
    c.push(("submitter", withdraw(|r| r.submitter = Some(Submitter { who: None }))));
    c.push(("submitter", grant(|r| r.submitter = None)));
    c.push(("submitter", revoke_grant(|r| r.submitter = None)));
    c.push(("submitter.attorney_id", object(|r| r.submitter = attorney_submitter(" "))));
    c.push(("submitter.attorney_id", withdraw(|r| r.submitter = attorney_submitter(""))));
    c.push(("submitter.attorney_id", grant(|r| r.submitter = attorney_submitter(&"a".repeat(129)))));
    c.push(("submitter.attorney_id", revoke_grant(|r| r.submitter = attorney_submitter("a\tb"))));
    for bad in ["2026-02-30", "20260101", "2026-1-01", "01/01/2026", ""] {
        c.push(("valid_from", attorney(|r| r.valid_from = bad.into())));
    }
    for bad in ["2026-02-30", "20301231", "2030-13-01"] {
        c.push(("valid_until", attorney(|r| r.valid_until = bad.into())));
    }
    let backwards = ("2025-06-02".to_owned(), "2025-06-01".to_owned());
    c.push(("valid_until", attorney(|r| (r.valid_from, r.valid_until) = backwards)));
    for bad in ["rk b", "RK", "R-KB", "ABCDEFGHIJK"] {
        c.push(("organisation_ods", grant(|r| r.organisation_ods = bad.into())));
        c.push(("organisation_ods", revoke_grant(|r| r.organisation_ods = bad.into())));
    }
    let at = |seconds, nanos| Some(icr_proto::Timestamp { seconds, nanos });
    c.push(("until", grant(|r| r.until = None)));
    c.push(("until", grant(|r| r.until = at(1_900_000_000, 1_000_000_000))));
    c.push(("until", grant(|r| r.until = at(i64::MAX, 0))));
    c
}

#[tokio::test]
async fn every_bad_decision_or_consent_request_names_its_field_and_appends_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    server.admit(PATIENT).await;
    let before = server.all_events().await;
    let cases = cases();
    assert!(cases.len() > 120, "{} cases", cases.len());
    let mut failures = Vec::new();
    for (field, call) in cases {
        failures.extend(refused(&mut server, field, call).await);
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let after = server.all_events().await;
    assert_eq!(after.len(), before.len(), "bad requests appended events");
    assert_eq!(after.last().map(|e| &e.id), before.last().map(|e| &e.id));

    // Still answering: a decision, a batch of exactly 64 sections, a write.
    let decision = server
        .authorize(PATIENT, clinician(), RecordSection::Medications)
        .await;
    assert!(allowed(&decision), "{decision:?}");
    let full = AuthorizeBatchRequest {
        sections: vec![RecordSection::Allergies.into(); 64],
        ..batch_request()
    };
    let decisions = server
        .decisions
        .authorize_batch(full)
        .await
        .expect("64 sections")
        .into_inner()
        .decisions;
    assert_eq!(decisions.len(), 64);
    assert!(decisions.iter().all(allowed), "{decisions:?}");
    let written = server
        .consent
        .record_objection(object_request())
        .await
        .expect("good write");
    assert_eq!(
        write_position(written.into_inner().result),
        before.len() as u64 + 1
    );
}

/// Each case fails only because of the one field it changes: the unchanged
/// requests are accepted.
#[tokio::test]
async fn the_unchanged_decision_and_consent_requests_are_valid() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    server.admit(PATIENT).await;
    let baselines = [
        authorize(|_| {}),
        batch(|_| {}),
        status(|_| {}),
        attorney(|_| {}),
        object(|r| r.submitter = attorney_submitter("opg-1")),
        withdraw(|_| {}),
        revoke_attorney(|_| {}),
        grant(|_| {}),
        revoke_grant(|_| {}),
    ];
    for call in baselines {
        let shown = format!("{call:?}");
        send(&mut server, call)
            .await
            .unwrap_or_else(|s| panic!("{shown} refused: {s:?}"));
    }
}

/// google.protobuf.Timestamp: "nanos ... Must be from 0 to 999,999,999
/// inclusive". A negative `nanos` is not a valid timestamp, yet it is
/// accepted and stored as sent in the log.
#[tokio::test]
async fn until_with_negative_nanos_is_not_a_valid_timestamp() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    server.admit(PATIENT).await;
    let before = server.all_events().await.len();
    let seconds = jiff::Timestamp::now().as_second() + 86_400;
    let mut failures = Vec::new();
    for nanos in [-1, -999_999_999] {
        let call = grant(|r| r.until = Some(icr_proto::Timestamp { seconds, nanos }));
        failures.extend(refused(&mut server, "until", call).await);
    }
    let appended = server.all_events().await.split_off(before);
    assert!(
        failures.is_empty() && appended.is_empty(),
        "{failures:#?}\nappended: {appended:#?}"
    );
}

#[tokio::test]
async fn a_request_id_reused_with_different_content_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    server.admit(PATIENT).await;
    let first = object_request();
    let id = first.request_id.clone();
    server
        .consent
        .record_objection(first.clone())
        .await
        .expect("object");
    let before = server.all_events().await.len();

    let reused = [
        object(|r| (r.request_id, r.scope) = (id.clone(), ObjectionScope::SecondaryUse.into())),
        object(|r| (r.request_id, r.nhs_number) = (id.clone(), OTHER_PATIENT.into())),
        object(|r| (r.request_id, r.user_id) = (id.clone(), "someone-else".into())),
        // The same fields through another RPC is other content too.
        Call::Withdraw(WithdrawObjectionRequest {
            request_id: id.clone(),
            nhs_number: first.nhs_number.clone(),
            scope: first.scope,
            submitter: first.submitter.clone(),
            user_id: first.user_id.clone(),
            expected_stream_version: None,
        }),
        attorney(|r| r.request_id = id.clone()),
    ];
    for call in reused {
        let shown = format!("{call:?}");
        let error = send(&mut server, call).await.expect_err(&shown);
        assert_eq!(error.code(), Code::InvalidArgument, "{shown}: {error:?}");
        assert!(
            error.message().starts_with("request_id"),
            "{}",
            error.message()
        );
    }
    assert_eq!(server.all_events().await.len(), before);
    let status = server
        .consent
        .get_consent_status(status_request())
        .await
        .expect("status")
        .into_inner();
    assert_eq!(
        status.active_objections,
        vec![ObjectionScope::DirectCare as i32]
    );
    assert!(status.powers_of_attorney.is_empty(), "{status:?}");

    // The same content again is a replay, not an error.
    let retry = server
        .consent
        .record_objection(first)
        .await
        .expect("retry")
        .into_inner();
    assert!(retry.result.expect("result").replayed);
}

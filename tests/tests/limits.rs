//! Hostile sizes: every field at one past its bound (and far past it,
//! half a megabyte of text or thousands of entries) is refused as
//! `InvalidArgument` naming the field, with a short message; nothing is
//! appended to the log or the decision trail; the server goes on
//! answering; and each field at its bound exactly is accepted. The bounds
//! are in `services/consent-service/src/validate/limits.rs`.

use icr_integration_tests::*;
use icr_proto::pb::access_decision_service_client::AccessDecisionServiceClient;
use icr_proto::pb::*;
use tonic::{Code, Status};

/// Half a megabyte of text: far past every string bound, inside the
/// message size limit (1 MiB; a message past it is `ResourceExhausted`,
/// tested in `overload.rs`).
fn huge() -> String {
    "x".repeat(1 << 19)
}

/// One request to any RPC with a bound.
#[derive(Clone)]
enum Call {
    Authorize(AuthorizeRequest),
    Batch(AuthorizeBatchRequest),
    Object(RecordObjectionRequest),
    Join(JoinOrganisationRequest),
    Role(SetRolePolicyRequest),
    Region(SetRegionPolicyRequest),
    Events(ReadEventsRequest),
    Decisions(ReadDecisionsRequest),
    Report(GetAccessReportRequest),
    Queue(ListReviewQueueRequest),
    Review(RecordAccessReviewRequest),
    At(AuthorizeAtRequest),
    Recheck(RecheckDecisionRequest),
    Checkpoints(ListCheckpointsRequest),
}

async fn send(s: &mut Server, call: Call) -> Result<(), Status> {
    match call {
        Call::Authorize(r) => s.decisions.authorize(r).await.map(drop),
        Call::Batch(r) => s.decisions.authorize_batch(r).await.map(drop),
        Call::Object(r) => s.consent.record_objection(r).await.map(drop),
        Call::Join(r) => s.policy.join_organisation(r).await.map(drop),
        Call::Role(r) => s.policy.set_role_policy(r).await.map(drop),
        Call::Region(r) => s.policy.set_region_policy(r).await.map(drop),
        Call::Events(r) => s.audit.read_events(r).await.map(drop),
        Call::Decisions(r) => s.audit.read_decisions(r).await.map(drop),
        Call::Report(r) => s.audit.get_access_report(r).await.map(drop),
        Call::Queue(r) => s.audit.list_review_queue(r).await.map(drop),
        Call::Review(r) => s.audit.record_access_review(r).await.map(drop),
        Call::At(r) => s.audit.authorize_at(r).await.map(drop),
        Call::Recheck(r) => s.audit.recheck_decision(r).await.map(drop),
        Call::Checkpoints(r) => s.audit.list_checkpoints(r).await.map(drop),
    }
}

/// Sends `call` and says what was wrong, if it was not refused as
/// `InvalidArgument` naming `field` in a message of under 1 KB.
async fn refused(s: &mut Server, field: &str, call: Call) -> Option<String> {
    match send(s, call).await {
        Err(e)
            if e.code() == Code::InvalidArgument
                && e.message().starts_with(&format!("{field}: "))
                && e.message().len() < 1024 =>
        {
            None
        }
        Err(e) => {
            let shown: String = e.message().chars().take(200).collect();
            let (code, len) = (e.code(), e.message().len());
            Some(format!("{field}: got {code:?}, {len} bytes: {shown:?}"))
        }
        Ok(()) => Some(format!("{field}: accepted")),
    }
}

fn authorize_request() -> AuthorizeRequest {
    AuthorizeRequest {
        nhs_number: PATIENT.into(),
        requester: Some(clinician()),
        section: RecordSection::Medications.into(),
        purpose: Purpose::DirectCare.into(),
        ..Default::default()
    }
}

fn role_request() -> SetRolePolicyRequest {
    SetRolePolicyRequest {
        request_id: request_id(),
        role_code: "R8008".into(),
        description: "Admin/Clinical Support Access Role".into(),
        sections: vec![RecordSection::Demographics.into()],
        purposes: vec![Purpose::DirectCare.into()],
        user_id: "ig-lead".into(),
        ..Default::default()
    }
}

fn region_request() -> SetRegionPolicyRequest {
    SetRegionPolicyRequest {
        request_id: request_id(),
        region: "QWU".into(),
        name: "Coventry and Warwickshire".into(),
        consent_model: ConsentModel::OptOut.into(),
        minimum_age: 18,
        viewing_regions: vec!["QHL".into()],
        user_id: "ig-lead".into(),
        ..Default::default()
    }
}

/// `n` distinct, well-formed region codes.
fn regions(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("Q{i:03}")).collect()
}

fn review_request() -> RecordAccessReviewRequest {
    RecordAccessReviewRequest {
        request_id: request_id(),
        decision_id: "01J0000000000000000000000".into(),
        outcome: ReviewOutcome::NotJustified.into(),
        note: "no care relationship found".into(),
        user_id: "privacy-officer".into(),
    }
}

/// Every (field, request past its bound) pair.
#[rustfmt::skip]
fn cases() -> Vec<(&'static str, Call)> {
    let mut c: Vec<(&'static str, Call)> = Vec::new();
    let auth = |edit: &dyn Fn(&mut AuthorizeRequest)| {
        let mut r = authorize_request();
        edit(&mut r);
        r
    };
    for long in ["r".repeat(1025), huge()] {
        c.push(("access_reason", Call::Authorize(auth(&|r| r.access_reason = long.clone()))));
        let question = Some(auth(&|r| r.access_reason = long.clone()));
        let at = Some(authorize_at_request::At::AtPosition(1));
        c.push(("request.access_reason", Call::At(AuthorizeAtRequest { request: question, at })));
    }
    for long in ["u".repeat(129), huge()] {
        let requester = Some(Requester { user_id: long.clone(), ..clinician() });
        c.push(("requester.user_id", Call::Authorize(auth(&|r| r.requester = requester.clone()))));
        c.push(("request_id", Call::Object(RecordObjectionRequest { request_id: long.clone(), ..Server::objection(PATIENT) })));
        c.push(("user_id", Call::Object(RecordObjectionRequest { user_id: long.clone(), ..Server::objection(PATIENT) })));
        c.push(("decision_id", Call::Review(RecordAccessReviewRequest { decision_id: long.clone(), ..review_request() })));
        c.push(("decision_id", Call::Recheck(RecheckDecisionRequest { decision_id: long.clone() })));
    }
    for n in [65, 10_000] {
        let batch = AuthorizeBatchRequest {
            nhs_number: PATIENT.into(), requester: Some(clinician()),
            sections: vec![RecordSection::Allergies.into(); n], purpose: Purpose::DirectCare.into(),
            ..Default::default()
        };
        c.push(("sections", Call::Batch(batch)));
        c.push(("sections", Call::Role(SetRolePolicyRequest { sections: vec![1; n], ..role_request() })));
        c.push(("viewing_regions", Call::Region(SetRegionPolicyRequest { viewing_regions: regions(n), ..region_request() })));
        c.push(("event_types", Call::Events(ReadEventsRequest { event_types: vec!["PatientRegistered".into(); n], ..Default::default() })));
        c.push(("access_modes", Call::Decisions(ReadDecisionsRequest { access_modes: vec![1; n], ..Default::default() })));
    }
    c.push(("purposes", Call::Role(SetRolePolicyRequest { purposes: vec![1; 9], ..role_request() })));
    c.push(("event_types", Call::Events(ReadEventsRequest { event_types: vec!["ObjectionRecorded".into(); 15], ..Default::default() })));
    c.push(("access_modes", Call::Decisions(ReadDecisionsRequest { access_modes: vec![1, 2, 3, 1], ..Default::default() })));
    // An unknown name a megabyte long is refused without being repeated.
    c.push(("event_types[1]", Call::Events(ReadEventsRequest { event_types: vec!["PatientRegistered".into(), huge()], ..Default::default() })));
    for long in ["n".repeat(257), huge()] {
        c.push(("name", Call::Join(JoinOrganisationRequest { request_id: request_id(), ods_code: "RKB".into(), name: long.clone(), region: "QWU".into(), user_id: "ig-lead".into(), expected_stream_version: None })));
        c.push(("description", Call::Role(SetRolePolicyRequest { description: long.clone(), ..role_request() })));
        c.push(("name", Call::Region(SetRegionPolicyRequest { name: long.clone(), ..region_request() })));
    }
    c.push(("minimum_age", Call::Region(SetRegionPolicyRequest { minimum_age: 131, ..region_request() })));
    c.push(("minimum_age", Call::Region(SetRegionPolicyRequest { minimum_age: u32::MAX, ..region_request() })));
    c.push(("review_within_days", Call::Region(SetRegionPolicyRequest { review_within_days: 367, ..region_request() })));
    c.push(("review_within_days", Call::Region(SetRegionPolicyRequest { review_within_days: u32::MAX, ..region_request() })));
    for long in ["n".repeat(4097), huge()] {
        c.push(("note", Call::Review(RecordAccessReviewRequest { note: long, ..review_request() })));
    }
    for long in ["s".repeat(161), huge()] {
        c.push(("stream", Call::Events(ReadEventsRequest { stream: long, ..Default::default() })));
    }
    for size in [1001, u32::MAX] {
        c.push(("page_size", Call::Report(GetAccessReportRequest { nhs_number: PATIENT.into(), page_size: size, ..Default::default() })));
        c.push(("page_size", Call::Queue(ListReviewQueueRequest { page_size: size, ..Default::default() })));
        c.push(("page_size", Call::Checkpoints(ListCheckpointsRequest { page_size: size, ..Default::default() })));
    }
    for token in ["18446744073709551616".to_owned(), "-1".into(), huge()] {
        c.push(("page_token", Call::Report(GetAccessReportRequest { nhs_number: PATIENT.into(), page_token: token.clone(), ..Default::default() })));
        c.push(("page_token", Call::Queue(ListReviewQueueRequest { page_token: token, ..Default::default() })));
    }
    for position in [0, u64::MAX] {
        let at = Some(authorize_at_request::At::AtPosition(position));
        c.push(("at_position", Call::At(AuthorizeAtRequest { request: Some(authorize_request()), at })));
    }
    c
}

/// How many records the decision trail holds.
async fn decisions(s: &mut Server) -> usize {
    let request = ReadDecisionsRequest::default();
    let mut stream = s
        .audit
        .read_decisions(request)
        .await
        .expect("read")
        .into_inner();
    let mut n = 0;
    while let Some(item) = stream.message().await.expect("record") {
        n += usize::from(item.record.is_some());
    }
    n
}

#[tokio::test]
async fn every_field_past_its_bound_is_refused_by_name_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    server.admit(PATIENT).await;
    server
        .authorize(PATIENT, clinician(), RecordSection::Allergies)
        .await;
    let (events, trail) = (server.all_events().await, decisions(&mut server).await);
    let cases = cases();
    assert!(cases.len() > 50, "{} cases", cases.len());
    let mut failures = Vec::new();
    for (field, call) in cases {
        failures.extend(refused(&mut server, field, call).await);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let after = server.all_events().await;
    assert_eq!(
        after.len(),
        events.len(),
        "refused requests appended events"
    );
    assert_eq!(
        decisions(&mut server).await,
        trail,
        "refused requests were recorded"
    );

    // Still answering, reads and writes.
    let decision = server
        .authorize(PATIENT, clinician(), RecordSection::Medications)
        .await;
    assert!(allowed(&decision), "{decision:?}");
    let written = server
        .consent
        .record_objection(Server::objection(PATIENT))
        .await;
    let position = write_position(written.expect("a good write").into_inner().result);
    assert_eq!(position, events.len() as u64 + 1);
}

#[tokio::test]
async fn the_calling_system_header_is_bounded_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let mut client = AccessDecisionServiceClient::connect(server.endpoint.clone())
        .await
        .expect("connect");
    let ask = |system: String| {
        let mut request = tonic::Request::new(authorize_request());
        let value = system.parse().expect("ASCII header");
        request
            .metadata_mut()
            .insert(consent_service::CALLING_SYSTEM_HEADER, value);
        request
    };
    let long = client
        .authorize(ask("s".repeat(129)))
        .await
        .expect_err("too long");
    assert_eq!(long.code(), Code::InvalidArgument);
    assert!(
        long.message().starts_with("x-calling-system: "),
        "{}",
        long.message()
    );
    client
        .authorize(ask("s".repeat(128)))
        .await
        .expect("at the bound");
}

/// Each bound is inclusive: a field exactly at it is accepted.
#[tokio::test]
async fn every_field_at_its_bound_is_accepted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    server.admit(PATIENT).await;
    let s = &mut server;
    let all_types = icr_events::EVENT_TYPES.map(String::from).to_vec();
    let accepted = [
        Call::Authorize(AuthorizeRequest {
            access_reason: "r".repeat(1024),
            ..authorize_request()
        }),
        Call::Object(RecordObjectionRequest {
            request_id: "q".repeat(128),
            user_id: "u".repeat(128),
            ..Server::objection(PATIENT)
        }),
        Call::Join(JoinOrganisationRequest {
            request_id: request_id(),
            ods_code: "RKB".into(),
            name: "n".repeat(256),
            region: "QWU".into(),
            user_id: "ig-lead".into(),
            expected_stream_version: None,
        }),
        Call::Role(SetRolePolicyRequest {
            description: "d".repeat(256),
            ..role_request()
        }),
        Call::Region(SetRegionPolicyRequest {
            request_id: request_id(),
            region: "QXX".into(),
            viewing_regions: regions(64),
            minimum_age: 130,
            break_glass: true,
            review_within_days: 366,
            ..region_request()
        }),
        Call::Events(ReadEventsRequest {
            event_types: all_types,
            stream: "s".repeat(160),
            ..Default::default()
        }),
        Call::Decisions(ReadDecisionsRequest {
            access_modes: vec![1, 2, 3],
            ..Default::default()
        }),
        Call::Report(GetAccessReportRequest {
            nhs_number: PATIENT.into(),
            page_size: 1000,
            ..Default::default()
        }),
        Call::Queue(ListReviewQueueRequest {
            page_size: 1000,
            ..Default::default()
        }),
        Call::Checkpoints(ListCheckpointsRequest {
            page_size: 1000,
            ..Default::default()
        }),
    ];
    for call in accepted {
        if let Err(e) = send(s, call).await {
            panic!("refused at its bound: {:?} {}", e.code(), e.message());
        }
    }
}

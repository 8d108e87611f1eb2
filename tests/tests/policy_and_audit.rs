//! Policy changes that current state or a stale expected stream version
//! refuses append nothing, and the audit stream shows every event: gapless,
//! windowed, attributable (including an attorney acting for the patient). Policy effects on decisions: `policy.rs`.

use std::collections::{BTreeMap, HashSet};

use icr_integration_tests::*;
use icr_proto::pb::submitter::Who;
use icr_proto::pb::*;
use tonic::Code;

const UHCW: &str = "University Hospitals Coventry and Warwickshire NHS Trust";

fn join(ods: &str, name: &str, region: &str) -> JoinOrganisationRequest {
    JoinOrganisationRequest {
        request_id: request_id(),
        ods_code: ods.into(),
        name: name.into(),
        region: region.into(),
        user_id: "ig-lead".into(),
        expected_stream_version: None,
    }
}

fn leave(ods: &str) -> LeaveOrganisationRequest {
    LeaveOrganisationRequest {
        request_id: request_id(),
        ods_code: ods.into(),
        user_id: "ig-lead".into(),
        expected_stream_version: None,
    }
}

#[tokio::test]
async fn membership_conflicts_are_refused_and_append_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    let before = server.all_events().await.len();

    let never_joined = server
        .policy
        .leave_organisation(leave("RRK"))
        .await
        .expect_err("not a member");
    assert_eq!(
        never_joined.code(),
        Code::FailedPrecondition,
        "{never_joined:?}"
    );
    let twice = server
        .policy
        .join_organisation(join(HOSPITAL, UHCW, "QWU"))
        .await
        .expect_err("member");
    assert_eq!(twice.code(), Code::AlreadyExists, "{twice:?}");
    assert_eq!(server.all_events().await.len(), before);

    server
        .policy
        .leave_organisation(leave(HOSPITAL))
        .await
        .expect("leave");
    let again = server
        .policy
        .leave_organisation(leave(HOSPITAL))
        .await
        .expect_err("left already");
    assert_eq!(again.code(), Code::FailedPrecondition, "{again:?}");
    server
        .policy
        .join_organisation(join("RRK", "University Hospitals Birmingham", "QHL"))
        .await
        .expect("join");
    let twice = server
        .policy
        .join_organisation(join("RRK", "University Hospitals Birmingham", "QHL"))
        .await;
    assert_eq!(twice.expect_err("joined twice").code(), Code::AlreadyExists);
    assert_eq!(server.all_events().await.len(), before + 2);
}

/// The version `stream` is at: its latest event's, or 0.
fn version_of(events: &[RecordedEvent], stream: &str) -> u64 {
    events
        .iter()
        .filter(|e| e.stream == stream)
        .map(|e| e.stream_version)
        .max()
        .unwrap_or(0)
}

#[tokio::test]
async fn a_policy_change_on_a_stale_stream_version_is_aborted_and_appends_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    let events = server.all_events().await;
    let before = events.len();
    let region = version_of(&events, "region/QWU");
    let role = version_of(&events, "role/R8000");
    let member = version_of(&events, &format!("organisation/{HOSPITAL}"));
    assert!(region > 0 && role > 0 && member > 0, "the pack set them");

    let stale_region = SetRegionPolicyRequest {
        request_id: request_id(),
        region: "QWU".into(),
        name: "Coventry and Warwickshire".into(),
        consent_model: ConsentModel::OptOut.into(),
        minimum_age: 16,
        user_id: "ig-lead".into(),
        expected_stream_version: Some(region - 1),
        ..Default::default()
    };
    let stale_role = SetRolePolicyRequest {
        request_id: request_id(),
        role_code: "R8000".into(),
        description: "Clinical Practitioner Access Role".into(),
        sections: vec![RecordSection::Demographics.into()],
        purposes: vec![Purpose::DirectCare.into()],
        user_id: "ig-lead".into(),
        expected_stream_version: Some(role + 1),
        ..Default::default()
    };
    let stale_leave = LeaveOrganisationRequest {
        expected_stream_version: Some(member + 1),
        ..leave(HOSPITAL)
    };
    // A new stream is at version 0.
    let stale_join = JoinOrganisationRequest {
        expected_stream_version: Some(1),
        ..join("RRK", "University Hospitals Birmingham", "QHL")
    };
    let refusals = [
        server
            .policy
            .set_region_policy(stale_region)
            .await
            .map(drop),
        server.policy.set_role_policy(stale_role).await.map(drop),
        server
            .policy
            .leave_organisation(stale_leave)
            .await
            .map(drop),
        server.policy.join_organisation(stale_join).await.map(drop),
    ];
    for refused in refusals {
        let status = refused.expect_err("stale version");
        assert_eq!(status.code(), Code::Aborted, "{status:?}");
    }
    assert_eq!(server.all_events().await.len(), before);

    // At the current version the change is made; its retry, now stale, is
    // still answered with the first result.
    let current = JoinOrganisationRequest {
        expected_stream_version: Some(0),
        ..join("RRK", "University Hospitals Birmingham", "QHL")
    };
    let first = server
        .policy
        .join_organisation(current.clone())
        .await
        .expect("join at version 0")
        .into_inner()
        .result
        .expect("result");
    assert_eq!(first.stream_version, 1);
    let retry = server
        .policy
        .join_organisation(current)
        .await
        .expect("retry")
        .into_inner()
        .result
        .expect("result");
    assert!(retry.replayed);
    assert_eq!(retry.log_position, first.log_position);
    let current_leave = LeaveOrganisationRequest {
        expected_stream_version: Some(member),
        ..leave(HOSPITAL)
    };
    server
        .policy
        .leave_organisation(current_leave)
        .await
        .expect("leave at the current version");
    assert_eq!(server.all_events().await.len(), before + 2);
}

/// Reads `[from, from + limit)` (limit 0: to the head).
async fn read(server: &mut Server, from_position: u64, limit: u64) -> Vec<RecordedEvent> {
    let request = ReadEventsRequest {
        from_position,
        limit,
        ..Default::default()
    };
    let mut stream = server
        .audit
        .read_events(request)
        .await
        .expect("read events")
        .into_inner();
    let mut events = Vec::new();
    while let Some(item) = stream.message().await.expect("event") {
        events.extend(item.event);
    }
    events
}

fn positions(events: &[RecordedEvent]) -> Vec<u64> {
    events.iter().map(|e| e.position).collect()
}

#[tokio::test]
async fn audit_events_are_gapless_complete_and_attributable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    let started = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(60);
    let pack = server.all_events().await.len() as u64;
    assert!(pack > 0, "the default pack is in the log");
    server.admit(PATIENT).await;
    let objection = Server::objection(PATIENT);
    let objection_id = objection.request_id.clone();
    let written = server
        .consent
        .record_objection(objection)
        .await
        .expect("object")
        .into_inner()
        .result
        .expect("result");
    server
        .policy
        .leave_organisation(leave("RLT"))
        .await
        .expect("leave");

    let events = read(&mut server, 0, 0).await;
    let n = events.len() as u64;
    assert_eq!(n, pack + 4);
    assert_eq!(positions(&events), (1..=n).collect::<Vec<_>>());
    let mut ids = HashSet::new();
    let mut versions: BTreeMap<&str, u64> = BTreeMap::new();
    let mut previous = started;
    for e in &events {
        let crockford =
            |c: char| c.is_ascii_digit() || (c.is_ascii_uppercase() && !"ILOU".contains(c));
        assert!(
            e.id.len() == 26 && e.id.chars().all(crockford),
            "ULID {e:?}"
        );
        assert!(ids.insert(e.id.clone()), "duplicate id {e:?}");
        let version = versions.entry(e.stream.as_str()).or_default();
        *version += 1;
        assert_eq!(
            e.stream_version, *version,
            "stream versions count up by one: {e:?}"
        );
        assert_eq!(e.schema_version, 1, "{e:?}");
        assert!(
            !e.request_id.is_empty() && !e.event_type.is_empty() && e.payload.is_some(),
            "{e:?}"
        );
        let at = e.recorded_at.expect("recorded_at");
        let at = jiff::Timestamp::new(at.seconds, at.nanos).expect("timestamp");
        assert!(started < at && at < jiff::Timestamp::now(), "{e:?}");
        assert!(at >= previous, "recorded_at goes back: {e:?}");
        previous = at;
        let actor = e.actor.as_ref().expect("actor");
        if e.position <= pack {
            let pack_id = format!("policy-pack/coventry-warwickshire/{}", e.position - 1);
            assert_eq!(actor.calling_system, "consent-service", "{e:?}");
            assert_eq!(actor.user_id, "policy-pack/coventry-warwickshire", "{e:?}");
            assert_eq!(e.request_id, pack_id, "{e:?}");
        } else {
            assert_eq!(actor.calling_system, "integration-test", "{e:?}");
        }
    }
    let ours: Vec<_> = events[pack as usize..]
        .iter()
        .map(|e| {
            let actor = e.actor.as_ref().expect("actor");
            (
                e.stream.as_str(),
                e.stream_version,
                e.event_type.as_str(),
                actor.user_id.as_str(),
                actor.on_behalf_of.as_str(),
            )
        })
        .collect();
    let patient_stream = format!("patient/{PATIENT}");
    let p = patient_stream.as_str();
    assert_eq!(
        ours,
        [
            (p, 1, "PatientRegistered", "gp-feed", ""),
            (p, 2, "CareRelationshipStarted", "pas-feed", ""),
            (p, 3, "ObjectionRecorded", "pals-officer", ""),
            ("organisation/RLT", 2, "OrganisationLeft", "ig-lead", ""),
        ]
    );
    let objected = &events[pack as usize + 2];
    assert_eq!(
        (objected.request_id.as_str(), objected.id.as_str()),
        (objection_id.as_str(), written.event_id.as_str())
    );
    assert_eq!(objected.position, written.log_position);
}

#[tokio::test]
async fn audit_windows_resume_without_gaps_or_duplicates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    server.admit(PATIENT).await;
    server.admit(OTHER_PATIENT).await;
    let all = read(&mut server, 1, 0).await;
    let n = all.len() as u64;
    assert!(n >= 10, "{n}");

    let window = read(&mut server, 5, 3).await;
    assert_eq!(positions(&window), [5, 6, 7]);
    assert_eq!(window, all[4..7].to_vec());
    assert_eq!(positions(&read(&mut server, 0, 2).await), [1, 2]);

    // Page through in fours, resuming after the last position seen.
    let mut seen = Vec::new();
    let mut next = 1;
    loop {
        let page = read(&mut server, next, 4).await;
        let Some(last) = page.last() else { break };
        assert!(page.len() <= 4);
        next = last.position + 1;
        seen.extend(page);
    }
    assert_eq!(seen, all);
    assert_eq!(positions(&read(&mut server, n - 1, 100).await), [n - 1, n]);
    assert!(read(&mut server, n + 1, 0).await.is_empty());
    assert!(read(&mut server, n + 50, 5).await.is_empty());
}

#[tokio::test]
async fn an_attorneys_objection_is_recorded_on_behalf_of_the_patient() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    server.admit(PATIENT).await;
    let lpa = RegisterPowerOfAttorneyRequest {
        request_id: request_id(),
        nhs_number: PATIENT.into(),
        attorney_id: "opg-7000-42".into(),
        kind: PowerOfAttorneyKind::HealthAndWelfareLpa.into(),
        verified_by: "records-officer".into(),
        valid_from: "2024-01-01".into(),
        valid_until: String::new(),
        user_id: "records-officer".into(),
        expected_stream_version: None,
    };
    server
        .consent
        .register_power_of_attorney(lpa)
        .await
        .expect("register lpa");
    let mut objection = Server::objection(PATIENT);
    objection.submitter = Some(Submitter {
        who: Some(Who::AttorneyId("opg-7000-42".into())),
    });
    let written = server
        .consent
        .record_objection(objection)
        .await
        .expect("object")
        .into_inner()
        .result
        .expect("result");
    let denied = server
        .authorize(PATIENT, clinician(), RecordSection::Medications)
        .await;
    assert_eq!(
        (allowed(&denied), denied.reason.as_str()),
        (false, "objection_active")
    );

    let events = read(&mut server, written.log_position - 1, 2).await;
    let [registered, objected] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(registered.event_type, "PowerOfAttorneyRegistered");
    assert_eq!(registered.actor.as_ref().expect("actor").on_behalf_of, "");
    assert_eq!(objected.event_type, "ObjectionRecorded");
    let actor = objected.actor.clone().expect("actor");
    assert_eq!(
        (
            actor.calling_system.as_str(),
            actor.user_id.as_str(),
            actor.on_behalf_of.as_str()
        ),
        ("integration-test", "pals-officer", PATIENT)
    );
    let Some(event_payload::Kind::ObjectionRecorded(payload)) =
        objected.payload.as_ref().and_then(|p| p.kind.clone())
    else {
        panic!("{objected:?}")
    };
    assert_eq!(payload.attorney_id, "opg-7000-42");
}

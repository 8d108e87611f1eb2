//! What the default Coventry and Warwickshire pack decides: roles, care
//! relationships, own-organisation data, the population, batches, purposes
//! and the consistency token.

use icr_integration_tests::*;
use icr_proto::pb::*;
use jiff::ToSpan;
use tonic::Code;

/// A third valid NHS number (Modulus 11).
const YOUNG_PATIENT: &str = "4010232137";
/// A fourth valid NHS number, never registered in most tests.
const UNKNOWN_PATIENT: &str = "9990548609";

fn staff(role: &str, org: &str) -> Requester {
    Requester {
        user_id: format!("{role}-at-{org}"),
        role_code: role.into(),
        organisation_ods: org.into(),
    }
}

fn question(nhs: &str, requester: Requester, section: RecordSection) -> AuthorizeRequest {
    AuthorizeRequest {
        nhs_number: nhs.into(),
        requester: Some(requester),
        section: section.into(),
        purpose: Purpose::DirectCare.into(),
        source_organisation_ods: String::new(),
        min_log_position: 0,
        ..Default::default()
    }
}

async fn decide(server: &mut Server, request: AuthorizeRequest) -> Decision {
    let shown = format!("{request:?}");
    let response = server
        .decisions
        .authorize(request)
        .await
        .unwrap_or_else(|s| panic!("{shown}: {s:?}"));
    response.into_inner().decision.expect("decision")
}

fn assert_decision(d: &Decision, allow: bool, reason: &str, context: &str) {
    assert_eq!(
        (allowed(d), d.reason.as_str()),
        (allow, reason),
        "{context}: {d:?}"
    );
    assert!(
        !d.explanation.is_empty() && d.decision_id.len() == 26,
        "{d:?}"
    );
}

async fn register(server: &mut Server, nhs: &str, date_of_birth: &str) {
    let request = RegisterPatientRequest {
        request_id: request_id(),
        nhs_number: nhs.into(),
        gp_practice_ods: PRACTICE.into(),
        date_of_birth: date_of_birth.into(),
        user_id: "gp-feed".into(),
        expected_stream_version: None,
    };
    server
        .care
        .register_patient(request)
        .await
        .expect("register");
}

#[tokio::test]
async fn admin_and_social_worker_roles_see_only_their_sections() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    server.admit(PATIENT).await;
    let cases = [
        ("R8008", RecordSection::Demographics, true),
        ("R8008", RecordSection::AppointmentsAndReferrals, true),
        ("R8008", RecordSection::Medications, false),
        ("R8008", RecordSection::MentalHealth, false),
        ("R8014", RecordSection::SocialCareAssessments, true),
        ("R8014", RecordSection::SafeguardingAlerts, true),
        ("R8014", RecordSection::TestResultsPathology, false),
        ("R8001", RecordSection::Medications, true),
        ("R8001", RecordSection::MentalHealth, false),
        ("R8001", RecordSection::SocialCarePlans, false),
        ("R8000", RecordSection::MentalHealth, true),
        ("R8000", RecordSection::SafeguardingDols, true),
    ];
    for (role, section, allow) in cases {
        let d = server
            .authorize(PATIENT, staff(role, HOSPITAL), section)
            .await;
        let reason = if allow {
            "role_permits_section"
        } else {
            "role_not_permitted"
        };
        assert_decision(&d, allow, reason, &format!("{role} on {section:?}"));
        assert_eq!(d.section, section as i32);
    }
}

#[tokio::test]
async fn a_care_relationship_is_needed_except_for_the_organisations_own_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    server.admit(PATIENT).await;
    let george_eliot = || staff("R8000", "RLT");
    let from = |source: &str| AuthorizeRequest {
        source_organisation_ods: source.into(),
        ..question(PATIENT, george_eliot(), RecordSection::Conditions)
    };
    let d = decide(&mut server, from("")).await;
    assert_decision(&d, false, "no_care_relationship", "RLT, no relationship");
    let d = decide(&mut server, from(HOSPITAL)).await;
    assert_decision(&d, false, "no_care_relationship", "RLT, RKB's data");
    let d = decide(&mut server, from("RLT")).await;
    assert_decision(&d, true, "role_permits_section", "RLT, its own data");

    // An objection blocks other organisations' data but never one's own.
    server
        .consent
        .record_objection(Server::objection(PATIENT))
        .await
        .expect("object");
    let d = decide(&mut server, from("RLT")).await;
    assert_decision(&d, true, "role_permits_section", "RLT, own data, objection");
    let d = decide(&mut server, from(HOSPITAL)).await;
    assert_decision(&d, false, "objection_active", "RLT, RKB's data, objection");
    let own = AuthorizeRequest {
        source_organisation_ods: HOSPITAL.into(),
        ..question(PATIENT, clinician(), RecordSection::Conditions)
    };
    let d = decide(&mut server, own).await;
    assert_decision(&d, true, "role_permits_section", "RKB, own data, objection");
    let d = server
        .authorize(PATIENT, clinician(), RecordSection::Conditions)
        .await;
    assert_decision(
        &d,
        false,
        "objection_active",
        "RKB, unspecified source, objection",
    );
    // Own data is still subject to the role.
    let admin_own = AuthorizeRequest {
        source_organisation_ods: "RLT".into(),
        ..question(PATIENT, staff("R8008", "RLT"), RecordSection::Medications)
    };
    let d = decide(&mut server, admin_own).await;
    assert_decision(&d, false, "role_not_permitted", "RLT admin, own data");
}

/// The UK calendar date today.
fn uk_today() -> jiff::civil::Date {
    jiff::Timestamp::now()
        .in_tz("Europe/London")
        .expect("tz")
        .date()
}

#[tokio::test]
async fn only_registered_adults_are_in_the_population() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    server.admit(PATIENT).await;
    let d = server
        .authorize(UNKNOWN_PATIENT, clinician(), RecordSection::Demographics)
        .await;
    assert_decision(&d, false, "outside_population", "unknown patient");

    // Turns 18 in three days' time (UK date): still 17.
    let today = uk_today();
    let seventeen = today
        .checked_sub(18.years())
        .and_then(|d| d.checked_add(3.days()))
        .expect("date");
    register(&mut server, YOUNG_PATIENT, &seventeen.to_string()).await;
    let episode = StartCareRelationshipRequest {
        request_id: request_id(),
        nhs_number: YOUNG_PATIENT.into(),
        relationship_id: "young-1".into(),
        organisation_ods: HOSPITAL.into(),
        kind: CareRelationshipKind::InpatientEpisode.into(),
        user_id: "pas-feed".into(),
        expected_stream_version: None,
    };
    server
        .care
        .start_care_relationship(episode)
        .await
        .expect("start");
    let d = server
        .authorize(YOUNG_PATIENT, clinician(), RecordSection::Demographics)
        .await;
    assert_decision(
        &d,
        false,
        "outside_population",
        &format!("born {seventeen}, today {today}"),
    );
    // Not even the organisation's own data: the patient is not in the ICR.
    let own = AuthorizeRequest {
        source_organisation_ods: HOSPITAL.into(),
        ..question(YOUNG_PATIENT, clinician(), RecordSection::Demographics)
    };
    assert_decision(
        &decide(&mut server, own).await,
        false,
        "outside_population",
        "own data",
    );

    // An 18th birthday today (corrected date of birth): in the population.
    let eighteen = today.checked_sub(18.years()).expect("date");
    register(&mut server, YOUNG_PATIENT, &eighteen.to_string()).await;
    let d = server
        .authorize(YOUNG_PATIENT, clinician(), RecordSection::Demographics)
        .await;
    assert_decision(
        &d,
        true,
        "role_permits_section",
        &format!("born {eighteen}, today {today}"),
    );

    // A patient registered at a practice outside the agreement.
    let away = RegisterPatientRequest {
        request_id: request_id(),
        nhs_number: OTHER_PATIENT.into(),
        gp_practice_ods: "F84001".into(),
        date_of_birth: "1970-01-01".into(),
        user_id: "gp-feed".into(),
        expected_stream_version: None,
    };
    server
        .care
        .register_patient(away)
        .await
        .expect("register elsewhere");
    let d = server
        .authorize(OTHER_PATIENT, clinician(), RecordSection::Demographics)
        .await;
    assert_decision(
        &d,
        false,
        "outside_population",
        "practice not in the agreement",
    );
}

#[tokio::test]
async fn a_batch_answers_each_section_in_order_at_one_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    let admitted = server.admit(PATIENT).await;
    let sections = [
        RecordSection::MentalHealth,
        RecordSection::Medications,
        RecordSection::SocialCareAssessments,
        RecordSection::Demographics,
        RecordSection::MentalHealth,
    ];
    let request = AuthorizeBatchRequest {
        nhs_number: PATIENT.into(),
        requester: Some(staff("R8001", HOSPITAL)),
        sections: sections.iter().map(|s| *s as i32).collect(),
        purpose: Purpose::DirectCare.into(),
        source_organisation_ods: String::new(),
        min_log_position: admitted,
        ..Default::default()
    };
    let decisions = server
        .decisions
        .authorize_batch(request)
        .await
        .expect("batch")
        .into_inner()
        .decisions;
    let got: Vec<_> = decisions
        .iter()
        .map(|d| (d.section, allowed(d), d.reason.as_str()))
        .collect();
    let (no, yes) = ("role_not_permitted", "role_permits_section");
    let want: Vec<_> = sections
        .iter()
        .zip([
            (false, no),
            (true, yes),
            (false, no),
            (true, yes),
            (false, no),
        ])
        .map(|(s, (a, r))| (*s as i32, a, r))
        .collect();
    assert_eq!(got, want);
    let position = decisions[0].log_position;
    assert!(position >= admitted);
    assert!(
        decisions.iter().all(|d| d.log_position == position),
        "{decisions:?}"
    );
    let ids: std::collections::HashSet<_> =
        decisions.iter().map(|d| d.decision_id.as_str()).collect();
    assert_eq!(ids.len(), sections.len(), "one decision id each");
}

#[tokio::test]
async fn secondary_use_is_not_a_purpose_any_default_role_has() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    server.admit(PATIENT).await;
    for section in [RecordSection::Demographics, RecordSection::Medications] {
        let request = AuthorizeRequest {
            purpose: Purpose::SecondaryUse.into(),
            ..question(PATIENT, clinician(), section)
        };
        assert_decision(
            &decide(&mut server, request).await,
            false,
            "role_not_permitted",
            "secondary use",
        );
    }
    let direct = server
        .authorize(PATIENT, clinician(), RecordSection::Medications)
        .await;
    assert_decision(&direct, true, "role_permits_section", "direct care");
}

#[tokio::test]
async fn a_consistency_token_beyond_the_head_is_out_of_range_never_stale() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    let head = server.admit(PATIENT).await;
    let at_head = AuthorizeRequest {
        min_log_position: head,
        ..question(PATIENT, clinician(), RecordSection::Medications)
    };
    let d = decide(&mut server, at_head.clone()).await;
    assert_decision(&d, true, "role_permits_section", "at the head");
    assert_eq!(d.log_position, head);

    let waited = std::time::Instant::now();
    let beyond = AuthorizeRequest {
        min_log_position: head + 1000,
        ..at_head
    };
    let error = server
        .decisions
        .authorize(beyond)
        .await
        .expect_err("no decision on stale state");
    // Still past the head after the wait: nothing will reach it unless
    // written, so not Unavailable, which would say to retry.
    assert_eq!(error.code(), Code::OutOfRange, "{error:?}");
    assert!(
        error.message().contains(&format!(
            "min_log_position {} is past the log's head {head}",
            head + 1000
        )),
        "{}",
        error.message()
    );
    assert!(
        waited.elapsed() >= std::time::Duration::from_secs(4),
        "gave up after {:?}",
        waited.elapsed()
    );
}

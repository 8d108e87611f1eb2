//! Consent RPCs through a real connection: attorneys, optimistic
//! concurrency, idempotent retries, permissions to view and the status.

use icr_integration_tests::*;
use icr_proto::pb::submitter::Who;
use icr_proto::pb::*;
use tonic::Code;

fn attorney(kind: PowerOfAttorneyKind, valid_until: &str) -> RegisterPowerOfAttorneyRequest {
    RegisterPowerOfAttorneyRequest {
        request_id: request_id(),
        nhs_number: PATIENT.into(),
        attorney_id: "opg-7000-1234".into(),
        kind: kind.into(),
        verified_by: "records-officer-3".into(),
        valid_from: "2020-01-01".into(),
        valid_until: valid_until.into(),
        user_id: "records-officer-3".into(),
        expected_stream_version: None,
    }
}

fn by_attorney(mut request: RecordObjectionRequest) -> RecordObjectionRequest {
    request.submitter = Some(Submitter {
        who: Some(Who::AttorneyId("opg-7000-1234".into())),
    });
    request
}

#[tokio::test]
async fn attorney_with_health_and_welfare_lpa_may_object_for_the_patient() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    server.admit(PATIENT).await;
    server
        .consent
        .register_power_of_attorney(attorney(PowerOfAttorneyKind::HealthAndWelfareLpa, ""))
        .await
        .expect("register");
    server
        .consent
        .record_objection(by_attorney(Server::objection(PATIENT)))
        .await
        .expect("attorney objects");
    let denied = server
        .authorize(PATIENT, clinician(), RecordSection::Allergies)
        .await;
    assert_eq!(denied.reason, "objection_active");
    let last = server.all_events().await.pop().expect("event");
    let actor = last.actor.expect("actor");
    assert_eq!(
        (actor.user_id.as_str(), actor.on_behalf_of.as_str()),
        ("pals-officer", PATIENT)
    );
}

#[tokio::test]
async fn attorney_without_a_valid_lpa_is_refused_and_nothing_is_appended() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    server.admit(PATIENT).await;
    let unknown = server
        .consent
        .record_objection(by_attorney(Server::objection(PATIENT)))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::FailedPrecondition, "{unknown:?}");

    let financial = attorney(PowerOfAttorneyKind::PropertyAndFinancialLpa, "");
    server
        .consent
        .register_power_of_attorney(financial)
        .await
        .expect("register");
    let before = server.all_events().await.len();
    let refused = server
        .consent
        .record_objection(by_attorney(Server::objection(PATIENT)))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(
        refused.message().contains("health-and-welfare"),
        "{}",
        refused.message()
    );
    assert_eq!(server.all_events().await.len(), before);
    assert!(allowed(
        &server
            .authorize(PATIENT, clinician(), RecordSection::Allergies)
            .await
    ));
}

#[tokio::test]
async fn expired_lpa_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    server
        .consent
        .register_power_of_attorney(attorney(
            PowerOfAttorneyKind::HealthAndWelfareLpa,
            "2021-01-01",
        ))
        .await
        .expect("register");
    let refused = server
        .consent
        .record_objection(by_attorney(Server::objection(PATIENT)))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    let revoke = RevokePowerOfAttorneyRequest {
        request_id: request_id(),
        nhs_number: PATIENT.into(),
        attorney_id: "opg-7000-1234".into(),
        user_id: "records-officer-3".into(),
        expected_stream_version: None,
    };
    server
        .consent
        .revoke_power_of_attorney(revoke.clone())
        .await
        .expect("revoke");
    let again = RevokePowerOfAttorneyRequest {
        request_id: request_id(),
        ..revoke
    };
    assert_eq!(
        server
            .consent
            .revoke_power_of_attorney(again)
            .await
            .unwrap_err()
            .code(),
        Code::FailedPrecondition
    );
}

#[tokio::test]
async fn stale_expected_version_is_aborted_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    server.admit(PATIENT).await; // stream version 2
    let mut stale = Server::objection(PATIENT);
    stale.expected_stream_version = Some(1);
    let before = server.all_events().await.len();
    let error = server.consent.record_objection(stale).await.unwrap_err();
    assert_eq!(error.code(), Code::Aborted, "{error:?}");
    assert_eq!(server.all_events().await.len(), before);
    let mut current = Server::objection(PATIENT);
    current.expected_stream_version = Some(2);
    let result = server
        .consent
        .record_objection(current)
        .await
        .expect("object")
        .into_inner()
        .result
        .expect("result");
    assert_eq!(result.stream_version, 3);
}

#[tokio::test]
async fn retry_with_the_same_request_id_returns_the_first_result_and_appends_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    let request = Server::objection(PATIENT);
    let first = server
        .consent
        .record_objection(request.clone())
        .await
        .expect("first")
        .into_inner()
        .result
        .expect("result");
    let count = server.all_events().await.len();
    let retry = server
        .consent
        .record_objection(request)
        .await
        .expect("retry")
        .into_inner()
        .result
        .expect("result");
    assert!(!first.replayed && retry.replayed);
    assert_eq!(
        (retry.event_id, retry.log_position),
        (first.event_id, first.log_position)
    );
    assert_eq!(server.all_events().await.len(), count);
}

#[tokio::test]
async fn objection_and_withdrawal_state_conflicts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    let withdraw = WithdrawObjectionRequest {
        request_id: request_id(),
        nhs_number: PATIENT.into(),
        scope: ObjectionScope::DirectCare.into(),
        submitter: Some(Submitter {
            who: Some(Who::Patient(true)),
        }),
        user_id: "pals-officer".into(),
        expected_stream_version: None,
    };
    assert_eq!(
        server
            .consent
            .withdraw_objection(withdraw)
            .await
            .unwrap_err()
            .code(),
        Code::FailedPrecondition
    );
    server
        .consent
        .record_objection(Server::objection(PATIENT))
        .await
        .expect("object");
    let twice = server
        .consent
        .record_objection(Server::objection(PATIENT))
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Code::AlreadyExists);
}

#[tokio::test]
async fn consent_status_reports_current_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    server.admit(PATIENT).await;
    server
        .consent
        .register_power_of_attorney(attorney(PowerOfAttorneyKind::CourtAppointedDeputy, ""))
        .await
        .expect("register");
    let tomorrow = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24);
    let grant = GrantPermissionToViewRequest {
        request_id: request_id(),
        nhs_number: PATIENT.into(),
        organisation_ods: "RLT".into(),
        until: Some(icr_events::timestamp_to_proto(tomorrow)),
        submitter: Some(Submitter {
            who: Some(Who::Patient(true)),
        }),
        user_id: "ward-clerk".into(),
        expected_stream_version: None,
    };
    server
        .consent
        .grant_permission_to_view(grant)
        .await
        .expect("grant");
    let written = server
        .consent
        .record_objection(Server::objection(PATIENT))
        .await
        .expect("object")
        .into_inner();
    let status = server
        .consent
        .get_consent_status(GetConsentStatusRequest {
            nhs_number: PATIENT.into(),
            min_log_position: write_position(written.result),
        })
        .await
        .expect("status")
        .into_inner();
    assert!(status.registered);
    assert_eq!(
        (
            status.gp_practice_ods.as_str(),
            status.date_of_birth.as_str()
        ),
        (PRACTICE, "1970-01-01")
    );
    assert_eq!(
        status.active_objections,
        vec![ObjectionScope::DirectCare as i32]
    );
    assert_eq!(status.powers_of_attorney.len(), 1);
    assert_eq!(status.care_relationships[0].organisation_ods, HOSPITAL);
    assert_eq!(status.permissions_to_view[0].organisation_ods, "RLT");
    assert_eq!(status.stream_version, 5);

    let revoke = RevokePermissionToViewRequest {
        request_id: request_id(),
        nhs_number: PATIENT.into(),
        organisation_ods: "RLT".into(),
        submitter: Some(Submitter {
            who: Some(Who::Patient(true)),
        }),
        user_id: "ward-clerk".into(),
        expected_stream_version: None,
    };
    server
        .consent
        .revoke_permission_to_view(revoke.clone())
        .await
        .expect("revoke");
    let again = RevokePermissionToViewRequest {
        request_id: request_id(),
        ..revoke
    };
    assert_eq!(
        server
            .consent
            .revoke_permission_to_view(again)
            .await
            .unwrap_err()
            .code(),
        Code::FailedPrecondition
    );
}

#[tokio::test]
async fn care_relationship_end_removes_the_legitimate_relationship() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    server.admit(PATIENT).await;
    let end = EndCareRelationshipRequest {
        request_id: request_id(),
        nhs_number: PATIENT.into(),
        relationship_id: format!("ep-{PATIENT}"),
        user_id: "pas-feed".into(),
        expected_stream_version: None,
    };
    server
        .care
        .end_care_relationship(end.clone())
        .await
        .expect("end");
    let denied = server
        .authorize(PATIENT, clinician(), RecordSection::Conditions)
        .await;
    assert_eq!(denied.reason, "no_care_relationship");
    let again = EndCareRelationshipRequest {
        request_id: request_id(),
        ..end
    };
    assert_eq!(
        server
            .care
            .end_care_relationship(again)
            .await
            .unwrap_err()
            .code(),
        Code::FailedPrecondition
    );
}

//! NHS numbers and ODS codes as people write them: an NHS number in the
//! 3-3-4 groups NHS letters print (`943 476 5919`, `943-476-5919`) and a
//! lower-case ODS code are read as the ten digits and the upper-case code,
//! by every RPC, and recorded, decided on and answered in that one form.
//! Other groupings and stray characters stay refused (`validation.rs`).

use icr_integration_tests::*;
use icr_proto::pb::*;

#[tokio::test]
async fn spaced_numbers_and_lower_case_codes_are_recorded_in_their_one_form() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    server
        .care
        .register_patient(RegisterPatientRequest {
            request_id: request_id(),
            nhs_number: "943 476 5919".into(),
            gp_practice_ods: "m86003".into(),
            date_of_birth: "1970-01-01".into(),
            user_id: "gp-feed".into(),
            expected_stream_version: None,
        })
        .await
        .expect("register patient");
    server
        .care
        .start_care_relationship(StartCareRelationshipRequest {
            request_id: request_id(),
            nhs_number: "943-476-5919".into(),
            relationship_id: "ep-1".into(),
            organisation_ods: "rkb".into(),
            kind: CareRelationshipKind::InpatientEpisode.into(),
            user_id: "pas-feed".into(),
            expected_stream_version: None,
        })
        .await
        .expect("start care relationship");

    let events = server.all_events().await;
    let patient: Vec<_> = events
        .iter()
        .filter(|e| e.stream.starts_with("patient/"))
        .collect();
    assert_eq!(patient.len(), 2, "{patient:?}");
    for event in &patient {
        assert_eq!(event.stream, format!("patient/{PATIENT}"));
    }
    use icr_proto::pb::event_payload::Kind;
    match patient[0].payload.as_ref().and_then(|p| p.kind.as_ref()) {
        Some(Kind::PatientRegistered(e)) => {
            assert_eq!(
                (e.nhs_number.as_str(), e.gp_practice_ods.as_str()),
                (PATIENT, "M86003")
            );
        }
        other => panic!("{other:?}"),
    }
    match patient[1].payload.as_ref().and_then(|p| p.kind.as_ref()) {
        Some(Kind::CareRelationshipStarted(e)) => assert_eq!(e.organisation_ods, "RKB"),
        other => panic!("{other:?}"),
    }

    let status = server
        .consent
        .get_consent_status(GetConsentStatusRequest {
            nhs_number: "943 476 5919".into(),
            min_log_position: 0,
        })
        .await
        .expect("status")
        .into_inner();
    assert_eq!(status.nhs_number, PATIENT, "answered in the one form");
    assert_eq!(status.gp_practice_ods, "M86003");

    let mut clinician = clinician();
    clinician.organisation_ods = "rkb".into();
    let decision = server
        .authorize("943 476 5919", clinician, RecordSection::Medications)
        .await;
    assert!(allowed(&decision), "{decision:?}");
    let report = server
        .audit
        .get_access_report(GetAccessReportRequest {
            nhs_number: "943-476-5919".into(),
            ..Default::default()
        })
        .await
        .expect("access report")
        .into_inner();
    let record = report
        .records
        .last()
        .expect("the decision is in the report");
    assert_eq!(record.nhs_number, PATIENT);
    assert_eq!(record.organisation_ods, "RKB");
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn a_retry_written_differently_is_the_same_request() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    let id = request_id();
    let register = |nhs: &str, practice: &str| RegisterPatientRequest {
        request_id: id.clone(),
        nhs_number: nhs.into(),
        gp_practice_ods: practice.into(),
        date_of_birth: "1970-01-01".into(),
        user_id: "gp-feed".into(),
        expected_stream_version: None,
    };
    let first = server
        .care
        .register_patient(register("943 476 5919", "m86003"))
        .await
        .expect("first")
        .into_inner()
        .result
        .expect("result");
    let again = server
        .care
        .register_patient(register(PATIENT, "M86003"))
        .await
        .expect("the same request, written the other way")
        .into_inner()
        .result
        .expect("result");
    assert!(again.replayed, "{again:?}");
    assert_eq!(again.event_id, first.event_id);
    server.stop().await.expect("clean stop");
}

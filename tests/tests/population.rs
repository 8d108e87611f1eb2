//! RegisterPatient records any valid registration, and its answer says
//! when the practice leaves the patient outside the ICR's population, so a
//! care feed learns it from the write rather than from the denies after.

use icr_integration_tests::*;
use icr_proto::pb::*;

/// Registers `nhs` at `practice`; the service's answer.
async fn register(server: &mut Server, nhs: &str, practice: &str) -> RegisterPatientResponse {
    server
        .care
        .register_patient(RegisterPatientRequest {
            request_id: request_id(),
            nhs_number: nhs.into(),
            gp_practice_ods: practice.into(),
            date_of_birth: "1970-01-01".into(),
            user_id: "gp-feed".into(),
            expected_stream_version: None,
        })
        .await
        .expect("recorded whatever the practice")
        .into_inner()
}

#[tokio::test]
async fn the_answer_says_why_a_practice_leaves_the_patient_outside_the_population() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;

    let inside = register(&mut server, PATIENT, PRACTICE).await;
    assert_eq!(inside.outside_population, "", "{inside:?}");

    let unknown = register(&mut server, OTHER_PATIENT, "Y99999").await;
    assert!(unknown.result.is_some());
    assert_eq!(
        unknown.outside_population,
        "practice Y99999 is not in the sharing agreement"
    );
    let mut viewer = clinician();
    viewer.organisation_ods = HOSPITAL.into();
    let decision = server
        .authorize(OTHER_PATIENT, viewer, RecordSection::Medications)
        .await;
    assert_eq!(decision.reason, "outside_population", "as the answer said");

    server
        .policy
        .join_organisation(JoinOrganisationRequest {
            request_id: request_id(),
            ods_code: "Y99999".into(),
            name: "A practice in a region without policy".into(),
            region: "QZZ".into(),
            user_id: "ig-lead".into(),
            expected_stream_version: None,
        })
        .await
        .expect("join");
    // A third patient: the same registration again would be AlreadyExists.
    let no_policy = register(&mut server, "4010232137", "Y99999").await;
    assert_eq!(
        no_policy.outside_population,
        "practice Y99999 is in region QZZ, which has no policy"
    );
    server.stop().await.expect("clean stop");
}

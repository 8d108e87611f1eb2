//! Policy the engine could not evaluate is refused before it is used: a
//! model with a function that panics on a bad pattern stops the service
//! starting, and a policy event the engine cannot be built with is
//! `InvalidArgument` and leaves the log as it was.

use consent_service::PolicyFiles;
use icr_integration_tests::*;
use icr_proto::pb::*;
use tonic::Code;

#[tokio::test]
async fn a_model_calling_a_pattern_function_stops_the_service_starting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut files = PolicyFiles::built_in();
    files.model = files
        .model
        .replace("r.section == p.section", "regexMatch(r.section, p.section)");
    let server = Server::start_with(dir.path(), files).await;
    let refused = server.stop().await.expect_err("refused to start");
    assert!(refused.contains("regexMatch"), "{refused}");
}

/// A pack with a region and an organisation but no role policy.
const NO_ROLES: &str = r#"
[pack]
name = "no-roles"
description = "A region and a hospital; roles come later through the policy RPCs."

[[regions]]
code = "QWU"
name = "Coventry and Warwickshire"
consent_model = "opt_out"
minimum_age = 18

[[organisations]]
ods = "RKB"
name = "University Hospitals Coventry and Warwickshire NHS Trust"
region = "QWU"
"#;

#[tokio::test]
async fn a_policy_event_the_engine_cannot_evaluate_is_refused_and_not_logged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut files = PolicyFiles::built_in();
    // Every allow line (`when` is `-`) would look up a fact named "-",
    // which is not a boolean: casbin fails on any allow line. Deny rules
    // evaluate, so the model starts while no role policy exists.
    files.model = files.model.replace(
        "(p.when == \"-\" || r.facts[p.when])",
        "(p.eft == \"deny\" && r.facts[p.when] || p.eft == \"allow\" && r.facts[p.when])",
    );
    files.pack_name = "no-roles".into();
    files.pack = NO_ROLES.into();
    let mut server = Server::start_with(dir.path(), files).await;
    let before = server.all_events().await;

    let role = SetRolePolicyRequest {
        request_id: request_id(),
        role_code: "R8000".into(),
        description: "Clinical Practitioner Access Role".into(),
        sections: vec![RecordSection::Medications.into()],
        purposes: vec![Purpose::DirectCare.into()],
        clinical: true,
        user_id: "policy-admin".into(),
        expected_stream_version: None,
    };
    let status = server
        .policy
        .set_role_policy(role)
        .await
        .expect_err("refused");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().starts_with("payload"), "{status:?}");
    assert_eq!(server.all_events().await, before);
    server.stop().await.expect("clean stop");
}

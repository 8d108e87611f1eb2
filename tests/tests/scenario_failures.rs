//! The scenario runner (`icr-scenarios`) reports what went wrong: each kind
//! of failure, run against the real service with the default pack.

use icr_integration_tests::in_process::InProcess;
use icr_scenarios::{PolicyFiles, Report, ScenarioFile};

const GIVEN: &str = r#"given = [
  { register = { nhs = "9434765919", practice = "M86003", dob = "today-40y" } },
  { care_start = { nhs = "9434765919", org = "RKB", kind = "inpatient_episode", relationship = "ep1" } },
]"#;
const WHEN: &str =
    r#"when = { nhs = "9434765919", role = "R8000", org = "RKB", section = "medications" }"#;

async fn run(text: &str) -> Report {
    let scenarios = ScenarioFile::from_toml(text, "failures.toml").expect("parses");
    icr_scenarios::run(InProcess, &PolicyFiles::built_in(), &scenarios).await
}

fn failure(report: &Report, name: &str) -> String {
    let result = report
        .results
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no result for {name}"));
    result
        .failure
        .clone()
        .unwrap_or_else(|| panic!("{name} passed"))
}

#[tokio::test(flavor = "multi_thread")]
async fn every_kind_of_failure_is_reported_with_expected_and_actual() {
    let text = format!(
        r#"
[[scenario]]
name = "passes"
{GIVEN}
{WHEN}
then = {{ outcome = "allow", reason = "role_permits_section" }}

[[scenario]]
name = "wrong outcome"
{GIVEN}
{WHEN}
then = {{ outcome = "deny", reason = "objection_active" }}

[[scenario]]
name = "wrong reason"
given = [{{ register = {{ nhs = "9434765919", practice = "M86003", dob = "today-40y" }} }}]
{WHEN}
then = {{ outcome = "deny", reason = "objection_active" }}

[[scenario]]
name = "missing obligation"
{GIVEN}
{WHEN}
then = {{ outcome = "allow", obligations = ["review"] }}

[[scenario]]
name = "step fails unexpectedly"
given = [{{ withdraw = {{ nhs = "9434765919" }} }}]
{WHEN}
then = {{ outcome = "deny", reason = "no_care_relationship" }}

[[scenario]]
name = "step succeeds unexpectedly"
given = [{{ register = {{ nhs = "9434765919", practice = "M86003", dob = "today-40y" }}, expect = "invalid_argument" }}]
{WHEN}
then = {{ outcome = "deny", reason = "no_care_relationship" }}

[[scenario]]
name = "step fails with another code"
given = [{{ register = {{ nhs = "1234567890", practice = "M86003", dob = "today-40y" }}, expect = "failed_precondition" }}]
{WHEN}
then = {{ outcome = "deny", reason = "no_care_relationship" }}
"#
    );
    let report = run(&text).await;
    println!("{report}");
    assert_eq!(report.results.len(), 7);
    assert_eq!((report.passed(), report.failed()), (1, 6), "{report}");
    assert_eq!(report.results[0].name, "passes", "results keep file order");
    let wrong = failure(&report, "wrong outcome");
    assert!(
        wrong.contains("expected deny (objection_active), got allow (role_permits_section"),
        "{wrong}"
    );
    let reason = failure(&report, "wrong reason");
    assert!(
        reason.contains("expected deny (objection_active), got deny (no_care_relationship"),
        "{reason}"
    );
    let obligation = failure(&report, "missing obligation");
    assert!(
        obligation.contains("obligations were [], expected [review]"),
        "{obligation}"
    );
    let step = failure(&report, "step fails unexpectedly");
    assert!(
        step.contains("given step 1 (withdraw) failed (expected success): failed_precondition"),
        "{step}"
    );
    let succeeded = failure(&report, "step succeeds unexpectedly");
    assert!(
        succeeded.contains("given step 1 (register): expected it to fail with invalid_argument"),
        "{succeeded}"
    );
    let other = failure(&report, "step fails with another code");
    assert!(
        other.contains("(expected failed_precondition): invalid_argument"),
        "{other}"
    );
    assert!(report.to_string().ends_with("1 passed, 6 failed"));
}

#[tokio::test]
async fn a_pack_the_service_refuses_fails_every_scenario() {
    let mut files = PolicyFiles::built_in();
    files.pack = files.pack.replacen("\"medications\"", "\"medicine\"", 1);
    let text = format!(
        "[[scenario]]\nname = \"any\"\n{GIVEN}\n{WHEN}\nthen = {{ outcome = \"allow\" }}\n"
    );
    let scenarios = ScenarioFile::from_toml(&text, "any.toml").expect("parses");
    let report = icr_scenarios::run(InProcess, &files, &scenarios).await;
    let why = failure(&report, "any");
    assert!(why.contains("unknown section 'medicine'"), "{why}");
}

#[test]
fn a_deny_without_a_reason_is_refused_at_load() {
    let text = format!(
        "[[scenario]]\nname = \"vague\"\n{GIVEN}\n{WHEN}\nthen = {{ outcome = \"deny\" }}\n"
    );
    let error = ScenarioFile::from_toml(&text, "vague.toml").expect_err("refused");
    assert!(
        error
            .to_string()
            .contains("expects a deny without a reason"),
        "{error}"
    );
}

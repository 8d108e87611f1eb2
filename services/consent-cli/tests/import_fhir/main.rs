//! `consent import-fhir` against the real service on `127.0.0.1:0`: FHIR
//! Consent fixtures (from `libs/icr-fhir/tests/fixtures`) recorded through
//! the CLI binary, re-imported as replays, and refused whole when any
//! resource cannot be represented.

#[path = "../support/mod.rs"]
mod support;

mod outcomes;

use serde_json::Value;
use support::{NHS, Service, cli, cli_offline, failed, json, json_lines, stdout, words, write};

/// A clinician at the hospital with a recorded care relationship.
const AUTHORIZE: &str =
    "authorize --nhs 9434765919 --role R8000 --org RKB --section medications --purpose direct_care";

/// The attorney id namespace the NHS-style fixtures use.
const ATTORNEY_SYSTEM: &str = "https://example.org/fhir/Id/attorney-id";

/// The path of a fixture.
fn fixture(name: &str) -> String {
    format!(
        "{}/../../libs/icr-fhir/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// `consent import-fhir` of `file` (with `more` arguments) and `--json`.
async fn import(endpoint: &str, file: &str, more: &[&str]) -> std::process::Output {
    let mut args = vec!["consent", "import-fhir", file, "--json"];
    args.extend_from_slice(more);
    cli(endpoint, &args).await
}

/// The one row a successful import of one resource printed.
async fn imported(endpoint: &str, name: &str, more: &[&str]) -> Value {
    let mut rows = json_lines(&import(endpoint, &fixture(name), more).await);
    assert_eq!(rows.len(), 1, "{rows:?}");
    rows.remove(0)
}

/// The decision for the hospital clinician.
async fn decision(endpoint: &str) -> Value {
    json(endpoint, &words(AUTHORIZE)).await.remove(0)
}

/// The service on a new data directory (kept alive by the returned
/// directory), with the patient registered and in hospital at RKB.
async fn admitted() -> (tempfile::TempDir, Service) {
    let dir = tempfile::tempdir().expect("tempdir");
    let options =
        consent_service::Options::new(dir.path(), consent_service::PolicyFiles::built_in());
    let service = Service::start_options(options).await;
    let endpoint = service.endpoint.as_str();
    let register = "care register-patient --nhs 9434765919 --practice M86003 --dob 1970-01-01";
    write(endpoint, &words(register)).await;
    let start = "care start --nhs 9434765919 --relationship ae-2026-001 --org RKB \
                 --kind inpatient_episode";
    write(endpoint, &words(start)).await;
    (dir, service)
}

/// How many events the log holds.
async fn event_count(endpoint: &str) -> usize {
    json(endpoint, &["events"]).await.len()
}

#[tokio::test]
async fn fhir_consents_are_recorded_replayed_and_refused_whole() {
    let (_dir, service) = admitted().await;
    let endpoint = service.endpoint.as_str();
    assert_eq!(decision(endpoint).await["outcome"], "ALLOW");

    // The patient's objection: recorded, and the clinician is refused.
    let recorded = imported(endpoint, "nhs/objection-by-patient.json", &[]).await;
    assert_eq!(recorded["change"], "record_objection", "{recorded}");
    assert_eq!(recorded["outcome"], "written");
    assert_eq!(recorded["replayed"], false);
    assert_eq!(recorded["nhs_number"], NHS);
    let denied = decision(endpoint).await;
    assert_eq!(
        (&denied["outcome"], &denied["reason"]),
        (&Value::from("DENY"), &Value::from("objection_active")),
        "{denied}"
    );

    // Importing it again is a replay: same request id, nothing appended.
    let events = event_count(endpoint).await;
    let again = imported(endpoint, "nhs/objection-by-patient.json", &[]).await;
    assert_eq!(again["replayed"], true, "{again}");
    assert_eq!(again["request_id"], recorded["request_id"]);
    assert_eq!(again["log_position"], recorded["log_position"]);
    assert_eq!(event_count(endpoint).await, events);

    // The user is part of the request: imported by someone else, the same
    // file is refused, not replayed, and the error says why.
    let other_user = import(
        endpoint,
        &fixture("nhs/objection-by-patient.json"),
        &["--user", "another-clerk"],
    )
    .await;
    let reason = failed(&other_user);
    assert!(
        reason.contains("another user") && reason.contains("InvalidArgument: request_id"),
        "{reason}"
    );
    assert_eq!(event_count(endpoint).await, events);

    refused_whole(endpoint, events).await;
    withdrawn_then_objected_by_an_attorney(endpoint).await;
    service.stop().await;
}

/// Unrepresentable resources, alone or beside a good one, change nothing
/// and exit 1 naming the element at fault.
async fn refused_whole(endpoint: &str, events: usize) {
    let time_limited = import(endpoint, &fixture("nhs/objection-time-limited.json"), &[]).await;
    let reason = failed(&time_limited);
    assert!(
        reason.contains("provision.period") && reason.contains("unsupported_period"),
        "{reason}"
    );
    let printed: Value = serde_json::from_str(stdout(&time_limited).trim()).expect("JSON row");
    assert_eq!(printed["outcome"], "rejected");
    assert_eq!(printed["rejection_path"], "provision.period");

    let hl7 = import(
        endpoint,
        &fixture("hl7/Consent-consent-example-notOrg.json"),
        &[],
    )
    .await;
    assert!(failed(&hl7).contains("provision.actor[0]"));

    // A Bundle of a grantable permission and a rejected one: neither is sent.
    let bundle = serde_json::json!({
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": read_fixture("nhs/permission-to-view.json")},
            {"resource": read_fixture("nhs/permission-open-ended.json")},
        ],
    });
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), bundle.to_string()).expect("write bundle");
    let mixed = import(endpoint, file.path().to_str().expect("UTF-8"), &[]).await;
    let reason = failed(&mixed);
    assert!(
        reason.contains("1 of 2") && reason.contains("provision.period.end"),
        "{reason}"
    );
    let rows: Vec<Value> = stdout(&mixed)
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON row"))
        .collect();
    assert_eq!(rows[0]["outcome"], "not_sent");
    assert_eq!(rows[1]["outcome"], "rejected");
    assert_eq!(event_count(endpoint).await, events, "nothing was appended");
    let status = json(endpoint, &["consent", "status", "--nhs", NHS]).await;
    assert_eq!(status[0]["permissions_to_view"], serde_json::json!([]));
}

/// The withdrawal (an inactive Consent), then the same objection made by a
/// registered attorney, and a permission to view, as NDJSON.
async fn withdrawn_then_objected_by_an_attorney(endpoint: &str) {
    let withdrawn = imported(endpoint, "nhs/objection-withdrawn.json", &[]).await;
    assert_eq!(withdrawn["change"], "withdraw_objection", "{withdrawn}");
    assert_eq!(decision(endpoint).await["outcome"], "ALLOW");

    let attorney = "consent attorney register --nhs 9434765919 --attorney LPA-7001 \
                    --kind health_and_welfare_lpa --verified-by opg-check-1 --valid-from 2026-01-01";
    write(endpoint, &words(attorney)).await;
    // Without the attorney namespace the RelatedPerson is no one we know.
    let unknown = import(endpoint, &fixture("nhs/objection-by-attorney.json"), &[]).await;
    assert!(failed(&unknown).contains("unsupported_performer"));

    let lines = [
        read_fixture("nhs/objection-by-attorney.json").to_string(),
        read_fixture("nhs/permission-to-view.json").to_string(),
    ]
    .join("\n");
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), lines).expect("write NDJSON");
    let path = file.path().to_str().expect("UTF-8");
    let rows =
        json_lines(&import(endpoint, path, &["--attorney-id-system", ATTORNEY_SYSTEM]).await);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0]["submitter"], "attorney LPA-7001", "{rows:?}");
    assert_eq!(rows[1]["change"], "grant_permission_to_view");
    let denied = decision(endpoint).await;
    assert_eq!(denied["reason"], "objection_active", "{denied}");
    let status = json(endpoint, &["consent", "status", "--nhs", NHS]).await;
    let permissions = &status[0]["permissions_to_view"];
    assert_eq!(permissions[0]["organisation_ods"], "RKB", "{status:?}");
    assert_eq!(
        permissions[0]["until"], "2030-03-31T22:59:59Z",
        "{status:?}"
    );
    assert_eq!(
        status[0]["active_objections"],
        serde_json::json!(["direct_care"])
    );
}

/// A fixture as JSON.
fn read_fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture(name)).expect("read fixture");
    serde_json::from_str(&text).expect("fixture JSON")
}

#[test]
fn a_dry_run_needs_no_service_and_sends_nothing() {
    let file = fixture("nhs/objection-secondary-use.json");
    let output = cli_offline(&["consent", "import-fhir", "--dry-run", &file, "--json"]);
    let rows = json_lines(&output);
    assert_eq!(rows[0]["outcome"], "planned", "{rows:?}");
    assert_eq!(rows[0]["scope"], "secondary_use");
    let rejected = fixture("hl7/Consent-consent-example-pkb.json");
    let output = cli_offline(&["consent", "import-fhir", "--dry-run", &rejected]);
    let reason = failed(&output);
    assert!(reason.contains("provision.provision[0]"), "{reason}");
    assert!(stdout(&output).contains("nested_provision"));
}

#[test]
fn a_file_whose_order_would_decide_the_outcome_is_refused_whole() {
    let active = read_fixture("nhs/objection-by-patient.json");
    let mut older = read_fixture("nhs/objection-withdrawn.json");
    older["id"] = Value::from("older");
    let bundle = |kind: &str, entries: &[&Value]| {
        let entries: Vec<Value> = entries
            .iter()
            .map(|resource| serde_json::json!({"resource": resource}))
            .collect();
        serde_json::json!({"resourceType": "Bundle", "type": kind, "entry": entries})
    };
    let dry_run = |bundle: Value| {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(file.path(), bundle.to_string()).expect("write bundle");
        let path = file.path().to_str().expect("UTF-8").to_owned();
        cli_offline(&["consent", "import-fhir", "--dry-run", &path, "--json"])
    };

    // A newer active Consent and an older inactive one for one objection.
    let conflicting = dry_run(bundle("collection", &[&active, &older]));
    let reason = failed(&conflicting);
    assert!(reason.contains("2 of 2"), "{reason}");
    let rows: Vec<Value> = stdout(&conflicting)
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON row"))
        .collect();
    for row in &rows {
        assert_eq!(
            (
                &row["outcome"],
                &row["rejection_kind"],
                &row["rejection_path"]
            ),
            (
                &Value::from("rejected"),
                &Value::from("conflicting_consents"),
                &Value::from("provision.purpose")
            ),
            "{rows:?}"
        );
    }

    // A history, newest first, is not a set of current Consents.
    let history = dry_run(bundle("history", &[&active]));
    let reason = failed(&history);
    assert!(
        reason.contains("type") && reason.contains("unsupported_bundle"),
        "{reason}"
    );
}

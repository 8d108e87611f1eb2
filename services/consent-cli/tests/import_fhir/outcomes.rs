//! What each sent resource's outcome says, against the real service: a
//! replay of a change since undone is `superseded`, an ending of what is
//! not in force is `not_in_effect` only when the service's refusal can
//! mean nothing else, and every other refusal stays an error.

use serde_json::Value;

use super::support::{NHS, failed, json, json_lines, stdout, words, write};
use super::{ATTORNEY_SYSTEM, admitted, decision, event_count, import, read_fixture};

/// `consent import-fhir --json` of `resources`, written as NDJSON.
async fn import_values(endpoint: &str, resources: &[Value], more: &[&str]) -> std::process::Output {
    let lines: Vec<String> = resources.iter().map(Value::to_string).collect();
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), lines.join("\n")).expect("write NDJSON");
    import(endpoint, file.path().to_str().expect("UTF-8"), more).await
}

/// The patient's active objections, by short name.
async fn objections(endpoint: &str) -> Value {
    let status = json(endpoint, &["consent", "status", "--nhs", NHS]).await;
    status[0]["active_objections"].clone()
}

#[tokio::test]
async fn only_what_the_consents_say_is_reported_as_in_effect() {
    let (_dir, service) = admitted().await;
    let endpoint = service.endpoint.as_str();

    returning_to_an_earlier_state(endpoint).await;
    ending_what_is_not_in_effect(endpoint).await;
    service.stop().await;
}

/// Active → inactive → active, the same JSON each time without a version:
/// the third import is a replay of the first, which the later withdrawal
/// has undone, so the CLI fails instead of claiming it; a new version is
/// then recorded.
async fn returning_to_an_earlier_state(endpoint: &str) {
    let active = read_fixture("nhs/objection-by-patient.json");
    let mut inactive = active.clone();
    inactive["status"] = Value::from("inactive");
    let recorded = json_lines(&import_values(endpoint, std::slice::from_ref(&active), &[]).await);
    assert_eq!(recorded[0]["outcome"], "written", "{recorded:?}");
    let withdrawn = json_lines(&import_values(endpoint, &[inactive], &[]).await);
    assert_eq!(
        withdrawn[0]["change"], "withdraw_objection",
        "{withdrawn:?}"
    );
    assert_eq!(decision(endpoint).await["outcome"], "ALLOW");

    let events = event_count(endpoint).await;
    let again = import_values(endpoint, std::slice::from_ref(&active), &[]).await;
    let reason = failed(&again);
    assert!(
        reason.contains("Consent/objection-by-patient") && reason.contains("meta.versionId"),
        "{reason}"
    );
    let row: Value = serde_json::from_str(stdout(&again).trim()).expect("JSON row");
    assert_eq!(row["outcome"], "superseded", "{row}");
    assert_eq!(row["replayed"], true);
    assert!(
        row["reason"]
            .as_str()
            .is_some_and(|r| r.contains("no direct_care objection is active")),
        "{row}"
    );
    assert_eq!(event_count(endpoint).await, events, "nothing was appended");
    assert_eq!(objections(endpoint).await, serde_json::json!([]));

    // A new version of the Consent is a new request, and is recorded.
    let mut versioned = active;
    versioned["meta"] = serde_json::json!({"versionId": "3"});
    let rows = json_lines(&import_values(endpoint, &[versioned], &[]).await);
    assert_eq!(
        (&rows[0]["outcome"], &rows[0]["replayed"]),
        (&Value::from("written"), &Value::from(false)),
        "{rows:?}"
    );
    assert!(
        rows[0]["request_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("fhir-consent-record-objection-by-patient-")),
        "{rows:?}"
    );
    assert_eq!(decision(endpoint).await["reason"], "objection_active");
}

/// Inactive Consents for an objection and a permission that are not in
/// effect are each nothing to end, and the import goes on past them; a
/// refusal for any other reason stays an error.
async fn ending_what_is_not_in_effect(endpoint: &str) {
    // The direct-care objection is active; end it under a new version.
    let mut withdrawn = read_fixture("nhs/objection-withdrawn.json");
    let ended = json_lines(&import_values(endpoint, &[withdrawn.clone()], &[]).await);
    assert_eq!(ended[0]["outcome"], "written", "{ended:?}");
    withdrawn["meta"] = serde_json::json!({"versionId": "2"});
    let mut lapsed = read_fixture("nhs/permission-to-view.json");
    lapsed["status"] = Value::from("inactive");
    lapsed["provision"]["period"] =
        serde_json::json!({"start": "2019-06-01T09:00:00Z", "end": "2020-01-01T00:00:00Z"});
    let secondary = read_fixture("nhs/objection-secondary-use.json");
    let events = event_count(endpoint).await;
    let rows = json_lines(&import_values(endpoint, &[withdrawn, lapsed, secondary], &[]).await);
    let outcomes: Vec<&Value> = rows.iter().map(|row| &row["outcome"]).collect();
    assert_eq!(
        outcomes,
        ["not_in_effect", "not_in_effect", "written"],
        "{rows:?}"
    );
    // Each reason keeps the service's own refusal.
    assert_eq!(
        rows[0]["reason"],
        "no direct_care objection is active: nothing to end (the service answered: there \
         is no active objection with this scope)"
    );
    assert_eq!(
        rows[1]["reason"],
        "RKB holds no permission to view: nothing to end (the service answered: this \
         organisation holds no active permission to view)"
    );
    assert_eq!(
        event_count(endpoint).await,
        events + 1,
        "only the objection"
    );
    assert_eq!(
        objections(endpoint).await,
        serde_json::json!(["secondary_use"])
    );

    // An attorney with no registered power may not withdraw the objection
    // that is active: the refusal is not taken for "nothing to end".
    let mut by_attorney = read_fixture("nhs/objection-by-attorney.json");
    by_attorney["status"] = Value::from("inactive");
    by_attorney["provision"]["purpose"][0]["code"] = Value::from("HOPERAT");
    let refused = import_values(
        endpoint,
        &[by_attorney],
        &["--attorney-id-system", ATTORNEY_SYSTEM],
    )
    .await;
    let reason = failed(&refused);
    assert!(reason.contains("no power of attorney"), "{reason}");
    assert_eq!(
        objections(endpoint).await,
        serde_json::json!(["secondary_use"])
    );
    ending_nothing_as_an_attorney(endpoint).await;
}

/// An attorney's withdrawal of an objection that is not active is nothing
/// to end only once the attorney holds a power that lets them decide:
/// before, the service refuses the attorney, and that stays an error.
async fn ending_nothing_as_an_attorney(endpoint: &str) {
    let mut by_attorney = read_fixture("nhs/objection-by-attorney.json");
    by_attorney["status"] = Value::from("inactive");
    let withdraw = || {
        import_values(
            endpoint,
            std::slice::from_ref(&by_attorney),
            &["--attorney-id-system", ATTORNEY_SYSTEM],
        )
    };
    let events = event_count(endpoint).await;
    let unregistered = withdraw().await;
    let reason = failed(&unregistered);
    assert!(
        reason.contains("FailedPrecondition") && reason.contains("no power of attorney"),
        "{reason}"
    );
    assert!(!stdout(&unregistered).contains("not_in_effect"));

    let attorney = "consent attorney register --nhs 9434765919 --attorney LPA-7001 \
                    --kind health_and_welfare_lpa --verified-by opg-check-1 --valid-from 2020-01-01";
    write(endpoint, &words(attorney)).await;
    let events = events + 1;
    let rows = json_lines(&withdraw().await);
    assert_eq!(
        (&rows[0]["outcome"], &rows[0]["submitter"]),
        (
            &Value::from("not_in_effect"),
            &Value::from("attorney LPA-7001")
        ),
        "{rows:?}"
    );
    assert!(
        rows[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("there is no active objection with this scope")),
        "{rows:?}"
    );
    assert_eq!(event_count(endpoint).await, events, "nothing was appended");
}

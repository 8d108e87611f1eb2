//! The README's auditor's walk-through, run with the real CLI binary against
//! the real service on `127.0.0.1:0`, which signs checkpoints with a key
//! made by `consent-cli audit keygen`.

mod support;

use serde_json::Value;
use support::{
    KeyPair, NHS, Service, cli, cli_offline, failed, follow_until, json, stderr, succeeded, with,
    words, write,
};

/// A clinician at the hospital with a recorded care relationship.
const AUTHORIZE: &str =
    "authorize --nhs 9434765919 --role R8000 --org RKB --section medications --purpose direct_care";

/// The ambulance service's clinician, with no care relationship, asking for
/// emergency access (followed by `--reason`).
const BREAK_GLASS: &str = "authorize --nhs 9434765919 --role R8000 --org RYA \
                           --section medications --purpose direct_care --mode break_glass";

/// The reason the ambulance clinician gives.
const REASON: [&str; 2] = ["--reason", "unconscious at the roadside"];

/// The one decision a JSON `authorize` printed.
async fn decide(endpoint: &str, args: &[&str]) -> Value {
    let mut decisions = json(endpoint, args).await;
    assert_eq!(decisions.len(), 1, "{decisions:?}");
    decisions.remove(0)
}

#[tokio::test]
async fn auditors_walkthrough() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = KeyPair::generate(dir.path(), "audit");
    let prefix = dir.path().join("audit");
    let again = cli_offline(&["audit", "keygen", "--out", prefix.to_str().expect("UTF-8")]);
    assert!(failed(&again).contains("already exists"));
    let data_dir = dir.path().join("data");
    let service = Service::start(&data_dir, keys.signing_key()).await;
    let endpoint = service.endpoint.as_str();

    // Care context, an ordinary access, and emergency access: refused until
    // the policy administrator turns break glass on for the region.
    let register = "care register-patient --nhs 9434765919 --practice M86003 --dob 1970-01-01";
    write(endpoint, &words(register)).await;
    let start = "care start --nhs 9434765919 --relationship ae-2026-001 --org RKB \
                 --kind inpatient_episode";
    write(endpoint, &words(start)).await;
    let allowed = decide(endpoint, &words(AUTHORIZE)).await;
    assert_eq!(allowed["outcome"], "ALLOW");
    let break_glass = with(&words(BREAK_GLASS), &REASON);
    let refused = decide(endpoint, &break_glass).await;
    assert_eq!(refused["reason"], "break_glass", "{refused}");
    let region = with(
        &words("policy set-region --code QWU"),
        &["--name", "Coventry and Warwickshire"],
    );
    let more = "--model opt_out --minimum-age 18 --viewing-region QHL,QGH --break-glass \
                --secondary-use-pseudonymised";
    write(endpoint, &with(&region, &words(more))).await;
    let emergency = decide(endpoint, &break_glass).await;
    assert_eq!(emergency["outcome"], "ALLOW", "{emergency}");
    assert!(
        emergency["obligations"]
            .as_str()
            .is_some_and(|o| o.contains("review"))
    );
    let emergency_id = emergency["decision_id"].as_str().expect("id").to_owned();
    let decision_ids = [&allowed, &refused, &emergency].map(|d| d["decision_id"].clone());

    replay_with_filters(endpoint, &decision_ids).await;
    review_the_emergency_access(endpoint, &emergency_id).await;
    ask_the_past(endpoint, &emergency_id).await;
    follow_live(endpoint).await;
    export_and_checkpoints(endpoint, &keys, dir.path()).await;

    let verify = ["verify", "--server", "--public-key", keys.public_arg()];
    let verified = succeeded(&cli(endpoint, &verify).await);
    assert!(
        verified.starts_with("verified up to event position"),
        "{verified}"
    );
    let events = json(endpoint, &["events"]).await;
    let last_event = events.last().and_then(|e| e["position"].as_u64());
    let decisions = json(endpoint, &["audit", "trail"]).await.len();
    service.stop().await;

    // Offline, on the stopped service's directory, with no service at all.
    let data = data_dir.to_str().expect("UTF-8");
    let offline = cli_offline(&[
        "verify",
        "--data-dir",
        data,
        "--public-key",
        keys.public_arg(),
    ]);
    let text = succeeded(&offline);
    let last_event = last_event.expect("events");
    let heads =
        format!("verified up to event position {last_event} and decision position {decisions};");
    assert!(text.contains(&heads), "{text}");
    assert!(
        text.contains(&format!("signed by key {}", keys.fingerprint)),
        "{text}"
    );
    let signed = format!("the last vouching for event {last_event} and decision {decisions}");
    assert!(
        text.contains(&signed),
        "stopping signs a last checkpoint: {text}"
    );
    assert!(
        !stderr(&offline).contains("warning"),
        "{}",
        stderr(&offline)
    );
    let other = KeyPair::generate(dir.path(), "other");
    let wrong = cli_offline(&[
        "verify",
        "--data-dir",
        data,
        "--public-key",
        other.public_arg(),
    ]);
    let mistaken = failed(&wrong);
    let said = format!(
        "checkpoint 1 was signed by key {}, not by key {}",
        keys.fingerprint, other.fingerprint
    );
    assert!(mistaken.contains(&said), "{mistaken}");
    assert!(!mistaken.contains("altered or damaged"), "{mistaken}");
}

/// `events` and `audit trail` with filters, and the patient's report.
async fn replay_with_filters(endpoint: &str, decision_ids: &[Value]) {
    let events = json(endpoint, &["events"]).await;
    let types: Vec<&str> = events
        .iter()
        .filter_map(|e| e["event_type"].as_str())
        .collect();
    for expected in [
        "PatientRegistered",
        "CareRelationshipStarted",
        "RegionPolicySet",
    ] {
        assert!(
            types.contains(&expected),
            "{expected} missing from {types:?}"
        );
    }
    let filtered = "events --nhs 9434765919 --type CareRelationshipStarted --since 2020-01-01";
    let filtered = cli(endpoint, &with(&words(filtered), &["--json"])).await;
    assert_eq!(support::json_lines(&filtered).len(), 1);
    assert!(stderr(&filtered).contains("caught up at position"));
    let exported = succeeded(&cli(endpoint, &words("events --nhs 9434765919 --ndjson")).await);
    assert_eq!(exported.lines().count(), 2);
    for line in exported.lines() {
        let event = icr_fhir::event_from_ndjson_line(line).expect("proto3 JSON");
        assert_eq!(event.stream, format!("patient/{NHS}"));
        assert_eq!(event.chain_hash.len(), 32);
    }
    let none = succeeded(&cli(endpoint, &words("events --until 2020-01-01")).await);
    assert_eq!(none, "(none)\n");

    let trail = json(endpoint, &["audit", "trail"]).await;
    let ids: Vec<Value> = trail.iter().map(|r| r["decision_id"].clone()).collect();
    assert_eq!(ids, decision_ids, "every decision, in order");
    let table = succeeded(&cli(endpoint, &words("audit trail --mode break_glass")).await);
    assert!(
        table.starts_with("AUDIT POSITION  DECISION ID  "),
        "{table}"
    );
    assert_eq!(
        table.lines().count(),
        3,
        "header, two break-glass requests:\n{table}"
    );

    let report = succeeded(&cli(endpoint, &words("audit report 9434765919")).await);
    assert!(
        report.contains("emergency access: unconscious at the roadside"),
        "{report}"
    );
    assert!(report.contains("refused (break_glass)"), "{report}");
    assert_eq!(
        report.lines().count(),
        4,
        "header and three accesses:\n{report}"
    );
    let views = succeeded(&cli(endpoint, &words("audit report 9434765919 --views-only")).await);
    assert!(!views.contains("refused"), "{views}");
    assert_eq!(
        views.lines().filter(|l| l.ends_with("viewed")).count(),
        2,
        "the care relationship's view and the emergency access:\n{views}"
    );
    assert_eq!(views.lines().count(), 3, "header and two views:\n{views}");
}

/// The review queue, a review, and the queue afterwards.
async fn review_the_emergency_access(endpoint: &str, emergency_id: &str) {
    let queue = succeeded(&cli(endpoint, &words("audit review-queue")).await);
    assert!(
        queue.contains(emergency_id) && queue.contains("awaiting"),
        "{queue}"
    );
    let review = ["audit", "review", emergency_id, "--outcome"];
    let no_note = cli(endpoint, &with(&review, &["not_justified"])).await;
    assert!(failed(&no_note).contains("--note is required"));
    // The privacy officer, not the clinician who made the access.
    let note = [
        "justified",
        "--note",
        "unconscious patient, ambulance crew on scene",
        "--user",
        "privacy-officer",
    ];
    write(endpoint, &with(&review, &note)).await;
    let queue = succeeded(&cli(endpoint, &words("audit review-queue")).await);
    assert_eq!(queue, "(none)\n");
    let all = json(endpoint, &words("audit review-queue --all")).await;
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0]["decision_id"], emergency_id);
    assert_eq!(all[0]["review"], "justified");
}

/// `audit recheck`, and `audit at` either side of an objection.
async fn ask_the_past(endpoint: &str, emergency_id: &str) {
    let recheck = json(endpoint, &["audit", "recheck", emergency_id]).await;
    assert_eq!(recheck[0]["agrees"], true, "{recheck:?}");
    assert_eq!(recheck[0]["outcome_now"], "ALLOW", "{recheck:?}");
    let objection = write(endpoint, &words("consent object --nhs 9434765919")).await;
    let question = &words(AUTHORIZE)[1..];
    let before = (objection - 1).to_string();
    let at_before = json(
        endpoint,
        &with(&["audit", "at", "--position", before.as_str()], question),
    )
    .await;
    assert_eq!(at_before[0]["outcome"], "ALLOW", "{at_before:?}");
    let after = objection.to_string();
    let at_after = with(
        &["audit", "at", "--position", after.as_str(), "--explain"],
        question,
    );
    let at_after = succeeded(&cli(endpoint, &at_after).await);
    assert!(
        at_after.contains("DENY") && at_after.contains("objection_active"),
        "{at_after}"
    );
    let objected = json(endpoint, &words("events --type ObjectionRecorded")).await;
    let when = objected[0]["recorded_at"].as_str().expect("recorded_at");
    let at_time = with(&["audit", "at", "--time", when], question);
    assert!(succeeded(&cli(endpoint, &at_time).await).contains("objection_active"));
    // Asked now, it is a deny; today's engine still agrees with the
    // emergency access recorded before the objection.
    assert_eq!(decide(endpoint, &words(AUTHORIZE)).await["outcome"], "DENY");
    succeeded(&cli(endpoint, &["audit", "recheck", emergency_id]).await);
}

/// `--follow`: live lines after the catch-up, as JSON and as table rows.
async fn follow_live(endpoint: &str) {
    let events = words("events --nhs 9434765919 --follow --json");
    let withdraw = words("consent withdraw --nhs 9434765919");
    follow_until(endpoint, &events, &withdraw, "ObjectionWithdrawn").await;
    let both = "events --nhs 9434765919 --type ObjectionRecorded,ObjectionWithdrawn";
    assert_eq!(json(endpoint, &words(both)).await.len(), 2);
    // Every decision so far is about medications: the allergies row is live.
    let allergies = AUTHORIZE.replace("medications", "allergies");
    let trail = words("audit trail --follow");
    follow_until(endpoint, &trail, &words(&allergies), "allergies").await;
}

/// FHIR exports of the trail, and the checkpoints.
async fn export_and_checkpoints(endpoint: &str, keys: &KeyPair, dir: &std::path::Path) {
    let trail = json(endpoint, &["audit", "trail"]).await;
    let ndjson_path = dir.join("audit-events.ndjson");
    let out = ndjson_path.to_str().expect("UTF-8");
    let export = words("audit export --format fhir-ndjson --out");
    succeeded(&cli(endpoint, &with(&export, &[out])).await);
    let ndjson = std::fs::read_to_string(&ndjson_path).expect("export");
    let exported: Vec<Value> = ndjson
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!(exported.len(), trail.len());
    for (event, record) in exported.iter().zip(&trail) {
        assert_eq!(event["resourceType"], "AuditEvent");
        assert_eq!(event["id"], record["decision_id"]);
    }
    let bundle_path = dir.join("break-glass.json");
    let out = bundle_path.to_str().expect("UTF-8");
    let export = words("audit export --format fhir-bundle --mode break_glass --out");
    let export = cli(endpoint, &with(&export, &[out])).await;
    assert!(
        stderr(&export).contains("wrote 2 AuditEvents"),
        "{}",
        stderr(&export)
    );
    let bundle: Value =
        serde_json::from_slice(&std::fs::read(&bundle_path).expect("bundle")).expect("JSON");
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["entry"].as_array().map(Vec::len), Some(2));

    let checkpoints = json(endpoint, &words("audit checkpoints")).await;
    assert!(
        !checkpoints.is_empty(),
        "the service signs one as it starts"
    );
    for checkpoint in &checkpoints {
        assert_eq!(checkpoint["public_key"], keys.public_hex.as_str());
        assert_eq!(checkpoint["fingerprint"], keys.fingerprint.as_str());
    }
    let table = succeeded(&cli(endpoint, &words("audit checkpoints")).await);
    assert!(table.starts_with("SEQUENCE  SIGNED AT"), "{table}");
    assert!(table.contains(&keys.fingerprint), "{table}");
    log_heads(endpoint).await;
}

/// `audit heads`: each log's head is its last item, hash and all.
async fn log_heads(endpoint: &str) {
    let heads = json(endpoint, &words("audit heads")).await;
    let events = json(endpoint, &["events"]).await;
    let trail = json(endpoint, &["audit", "trail"]).await;
    let last_event = events.last().expect("events");
    let last_record = trail.last().expect("decisions");
    assert_eq!(heads[0]["log"], "events");
    assert_eq!(heads[0]["position"], last_event["position"]);
    assert_eq!(heads[0]["chain_hash"], last_event["chain_hash"]);
    assert_eq!(heads[1]["log"], "decisions");
    assert_eq!(heads[1]["position"], last_record["audit_position"]);
    assert_eq!(heads[1]["chain_hash"], last_record["chain_hash"]);
    let table = succeeded(&cli(endpoint, &words("audit heads")).await);
    assert!(
        table.starts_with("LOG        POSITION  RECORDED AT"),
        "{table}"
    );
}

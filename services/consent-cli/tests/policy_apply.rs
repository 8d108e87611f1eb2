//! `consent-cli policy apply <PACK_DIR>` with the real binary against the
//! real service, started with no policy at all.

mod support;

use std::path::{Path, PathBuf};

use consent_service::{Options, PolicyFiles};
use icr_integration_tests::pki::Pki;
use serde_json::Value;
use support::{NHS, Service, cli, failed, json, stdout, succeeded, with, words};

const PACK: &str = "coventry-warwickshire";

fn policies_dir() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies")).to_owned()
}

fn pack_dir() -> String {
    policies_dir().join(PACK).display().to_string()
}

/// Options of a service with the shared model and rules and an empty pack:
/// its log starts with no event.
fn options_without_policy(data_dir: &Path) -> Options {
    let mut files = PolicyFiles::built_in();
    files.pack_name = "empty".to_owned();
    files.pack = "[pack]\nname = \"empty\"\ndescription = \"no policy yet\"\n".to_owned();
    Options::new(data_dir, files)
}

/// The service without policy, in plain text.
async fn service_without_policy(data_dir: &Path) -> Service {
    Service::start_options(options_without_policy(data_dir)).await
}

/// Every event in the log, as `events --json` prints them.
async fn log(endpoint: &str) -> Vec<Value> {
    json(endpoint, &["events"]).await
}

/// The medications of the README's patient, asked as R8000 at RKB.
async fn authorize(endpoint: &str) -> String {
    let question = "authorize --nhs 9434765919 --role R8000 --org RKB --section medications --purpose direct_care";
    succeeded(&cli(endpoint, &words(question)).await)
}

/// The pack's own entries, counted from its file.
fn pack_entries() -> usize {
    let files = PolicyFiles::from_dir(&policies_dir(), PACK).expect("read the pack");
    files.pack_events().expect("parse the pack").len()
}

#[tokio::test]
async fn a_pack_is_applied_once_and_then_has_nothing_to_change() {
    let dir = tempfile::tempdir().expect("tempdir");
    let service = service_without_policy(dir.path()).await;
    let endpoint = service.endpoint.as_str();
    assert_eq!(log(endpoint).await, Vec::<Value>::new());
    let pack = pack_dir();

    // A dry run plans every entry and appends nothing.
    let plan = json(endpoint, &["policy", "apply", &pack, "--dry-run"]).await;
    assert_eq!(plan.len(), pack_entries(), "{plan:?}");
    assert!(plan.iter().all(|change| change["why"] == "new"), "{plan:?}");
    assert!(plan.iter().all(|change| change["log_position"].is_null()));
    assert_eq!(log(endpoint).await, Vec::<Value>::new());

    // Applied: one policy event per entry, under the planned request ids.
    let applied = json(endpoint, &["policy", "apply", &pack]).await;
    assert_eq!(applied.len(), plan.len());
    let events = log(endpoint).await;
    assert_eq!(events.len(), plan.len());
    for (change, event) in plan.iter().zip(&events) {
        assert_eq!(change["request_id"], event["request_id"], "{event}");
        assert_eq!(change["stream"], event["stream"], "{event}");
    }

    // The pack's policy decides: R8000 at RKB sees a patient in its care.
    succeeded(
        &cli(
            endpoint,
            &words(&format!(
                "care register-patient --nhs {NHS} --practice M86003 --dob 1970-01-01"
            )),
        )
        .await,
    );
    succeeded(&cli(endpoint, &words(&format!("care start --nhs {NHS} --relationship ae-2026-001 --org RKB --kind inpatient_episode"))).await);
    let decision = authorize(endpoint).await;
    assert!(decision.contains("ALLOW"), "{decision}");
    let head = log(endpoint).await.len();

    // Again: nothing to change, nothing appended.
    let again = cli(endpoint, &["policy", "apply", &pack]).await;
    assert_eq!(
        succeeded(&again),
        format!("nothing to change: the service's policy already matches pack {PACK}\n")
    );
    assert_eq!(log(endpoint).await.len(), head);

    // An organisation that left since is brought back, and only it.
    succeeded(&cli(endpoint, &words("policy leave-org --ods RKB")).await);
    assert!(authorize(endpoint).await.contains("DENY"));
    let rejoined = json(endpoint, &["policy", "apply", &pack]).await;
    assert_eq!(rejoined.len(), 1, "{rejoined:?}");
    assert_eq!(rejoined[0]["action"], "join-org");
    assert_eq!(rejoined[0]["why"], "rejoins");
    assert_eq!(rejoined[0]["replayed"], false);
    assert!(authorize(endpoint).await.contains("ALLOW"));

    service.stop().await;
}

#[tokio::test]
async fn two_applies_at_once_record_the_pack_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let service = service_without_policy(dir.path()).await;
    let endpoint = service.endpoint.as_str();
    let pack = pack_dir();

    // Both may plan every change; the planned request ids are the same, so
    // whichever submits a change second is answered with the first's receipt.
    let apply = ["policy", "apply", pack.as_str()];
    let (first, second) = tokio::join!(cli(endpoint, &apply), cli(endpoint, &apply));
    succeeded(&first);
    succeeded(&second);
    assert_eq!(log(endpoint).await.len(), pack_entries());

    service.stop().await;
}

#[tokio::test]
async fn a_broken_pack_is_refused_naming_the_file_and_key_and_nothing_is_appended() {
    let dir = tempfile::tempdir().expect("tempdir");
    let service = service_without_policy(&dir.path().join("data")).await;
    let endpoint = service.endpoint.as_str();

    let policies = dir.path().join("policies");
    let broken = policies.join("broken");
    std::fs::create_dir_all(&broken).expect("mkdir");
    for file in ["model.conf", "rules.csv"] {
        std::fs::copy(policies_dir().join(file), policies.join(file)).expect("copy");
    }
    let pack = std::fs::read_to_string(policies_dir().join(PACK).join("pack.toml")).expect("read");
    let cases = [
        (
            pack.replacen("minimum_age", "minimum_years", 1),
            "minimum_years",
        ),
        (
            pack.replacen("\"medications\"", "\"medicine\"", 1),
            "unknown section 'medicine'",
        ),
    ];
    for (text, named) in cases {
        std::fs::write(broken.join("pack.toml"), text).expect("write");
        let output = cli(
            endpoint,
            &["policy", "apply", broken.to_str().expect("UTF-8 path")],
        )
        .await;
        let error = failed(&output);
        assert!(error.contains("broken/pack.toml"), "{error}");
        assert!(error.contains(named), "{error}");
        assert_eq!(stdout(&output), "");
        assert_eq!(log(endpoint).await, Vec::<Value>::new());
    }

    service.stop().await;
}

#[tokio::test]
async fn under_mutual_tls_an_auditor_reads_and_the_policy_administrator_writes() {
    const CALLERS: &str = r#"
[[callers]]
identity = "cli-policy.test"
kind = "policy_admin"

[[callers]]
identity = "cli-auditor.test"
kind = "auditor"
"#;
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = Pki::new("throwaway test CA");
    let mut options = options_without_policy(&dir.path().join("data"));
    options.tls = Some(pki.server_tls(CALLERS));
    let service = Service::start_options(options).await;
    let endpoint = service.endpoint.as_str();
    let write = |path: PathBuf, pem: &str| {
        std::fs::write(&path, pem).expect("write");
        path.display().to_string()
    };
    let ca = write(dir.path().join("ca.pem"), &pki.ca_pem());
    let identity = |name: &str| {
        let issued = pki.client(name);
        (
            write(dir.path().join(format!("{name}.pem")), &issued.cert),
            write(dir.path().join(format!("{name}.key")), &issued.key),
        )
    };
    let (policy_cert, policy_key) = identity("cli-policy.test");
    let (audit_cert, audit_key) = identity("cli-auditor.test");
    let as_policy = [
        "--tls-ca",
        &ca,
        "--tls-cert",
        &policy_cert,
        "--tls-key",
        &policy_key,
    ];
    let as_auditor = [
        "--tls-ca",
        &ca,
        "--tls-cert",
        &audit_cert,
        "--tls-key",
        &audit_key,
    ];
    let pack = pack_dir();
    let log = || async { json(endpoint, &with(&as_auditor, &["events"])).await };

    // The policy administrator alone may not read the log: told what to give.
    let alone = cli(endpoint, &with(&as_policy, &["policy", "apply", &pack])).await;
    let error = failed(&alone);
    assert!(error.contains("--read-tls-cert"), "{error}");
    assert_eq!(log().await.len(), 0);

    let read_as_auditor = ["--read-tls-cert", &audit_cert, "--read-tls-key", &audit_key];
    let apply = with(
        &with(&as_policy, &["policy", "apply", &pack]),
        &read_as_auditor,
    );
    let applied = json(endpoint, &apply).await;
    assert_eq!(applied.len(), pack_entries());
    let events = log().await;
    assert_eq!(events.len(), pack_entries());
    assert!(
        events
            .iter()
            .all(|event| event["calling_system"] == "cli-policy.test"),
        "written as the policy administrator: {events:?}"
    );
    let again = succeeded(&cli(endpoint, &apply).await);
    assert!(again.starts_with("nothing to change"), "{again}");

    service.stop().await;
}

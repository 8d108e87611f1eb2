//! `consent-cli verify --data-dir` on what a service may leave behind: a
//! directory written without a signing key, one whose log lost
//! acknowledged records, one still in use, and one sled cannot read. Each
//! answer is asserted in the words the user sees.

mod support;

use std::path::Path;

use consent_service::{Options, PolicyFiles};
use icr_log::test_util::{Record, copy_data_dir};
use serde_json::Value;
use support::{
    ADMIT, AUTHORIZE_MEDICATIONS, KeyPair, REGISTER, Service, cli, cli_offline, failed, json_lines,
    stderr, succeeded, with,
};

/// Runs an unsigned service on `data` while `write` sends it commands.
async fn unsigned(data: &Path, commands: &[&[&str]]) {
    let service = Service::start_options(Options::new(data, PolicyFiles::built_in())).await;
    for command in commands {
        succeeded(&cli(&service.endpoint, command).await);
    }
    service.stop().await;
}

/// The clinician of these tests, asking as in [`AUTHORIZE_MEDICATIONS`].
fn authorize() -> Vec<&'static str> {
    with(&["--user", "dr-verify"], AUTHORIZE_MEDICATIONS)
}

fn verify(data: &Path, more: &[&str]) -> std::process::Output {
    let data = data.to_str().expect("UTF-8");
    let args: Vec<&str> = ["verify", "--data-dir", data]
        .iter()
        .chain(more)
        .copied()
        .collect();
    cli_offline(&args)
}

/// The heads `verify --json` reports for `data`.
fn heads(data: &Path) -> (u64, u64) {
    let lines = json_lines(&verify(data, &["--json"]));
    let position = |name: &str| lines[0][name].as_u64().expect(name);
    (position("event_position"), position("decision_position"))
}

#[tokio::test]
async fn without_a_public_key_everything_but_signatures_is_checked_and_it_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    unsigned(&data, &[REGISTER, ADMIT, &authorize()]).await;
    let (events, decisions) = heads(&data);
    let verified = succeeded(&verify(&data, &[]));
    assert_eq!(
        verified.trim(),
        format!(
            "verified up to event position {events} and decision position {decisions}; no \
             checkpoints, and no signatures were checked (no --public-key)"
        )
    );
    let json = &json_lines(&verify(&data, &["--json"]))[0];
    assert_eq!(json["signatures_checked"], Value::Bool(false));

    // A signed service's directory, checked without its key.
    let keys = KeyPair::generate(dir.path(), "audit");
    let signed = dir.path().join("signed");
    let service = Service::start(&signed, keys.signing_key()).await;
    succeeded(&cli(&service.endpoint, REGISTER).await);
    service.stop().await;
    let json = &json_lines(&verify(&signed, &["--json"]))[0];
    let number = |name: &str| json[name].as_u64().expect(name);
    let verified = succeeded(&verify(&signed, &[]));
    assert_eq!(
        verified.trim(),
        format!(
            "verified up to event position {} and decision position 0; {} checkpoint{}, the \
             last vouching for event {} and decision 0; no signatures were checked (no \
             --public-key): give the service's public key to check them",
            number("event_position"),
            number("checkpoints"),
            if number("checkpoints") == 1 { "" } else { "s" },
            number("signed_event_position"),
        )
    );

    // The chains are still checked: a changed event fails without a key.
    let db = sled::open(&data).expect("open with sled");
    let log = db.open_tree("log").expect("log tree");
    let mut key = vec![b'e'];
    key.extend_from_slice(&5u64.to_be_bytes());
    let mut value = log.get(&key).expect("read").expect("stored").to_vec();
    let last = value.len() - 1;
    value[last] ^= 0x01;
    log.insert(&key, value).expect("write");
    db.flush().expect("flush");
    drop((log, db));
    let refused = failed(&verify(&data, &[]));
    assert!(
        refused.contains("event chain breaks at position 5"),
        "{refused}"
    );
}

#[tokio::test]
async fn a_log_missing_acknowledged_records_fails_naming_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (data, earlier) = (dir.path().join("data"), dir.path().join("earlier"));
    unsigned(&data, &[REGISTER]).await;
    let (kept, _) = heads(&data);
    copy_data_dir(&data, &earlier, Record::Copied);
    unsigned(&data, &[ADMIT, &authorize(), &authorize()]).await;
    let (events, decisions) = heads(&data);
    assert_eq!(decisions, 2);
    copy_data_dir(&earlier, &data, Record::Left);

    let refused = failed(&verify(&data, &[]));
    let expected = format!(
        "error: {} were acknowledged but are missing from the log in {}",
        match kept + 1 == events {
            true => format!("event {events} and decisions 1–2"),
            false => format!("events {}–{events} and decisions 1–2", kept + 1),
        },
        data.display()
    );
    assert!(
        refused.starts_with(&expected),
        "`{expected}` not at the start of:\n{refused}"
    );
    assert!(
        refused.contains("To go on, restore the directory from a verified copy or backup"),
        "{refused}"
    );
    let json = verify(&data, &["--json"]);
    assert_eq!(json.status.code(), Some(1));
    let line: Value = serde_json::from_slice(&json.stdout).expect("one JSON line");
    assert_eq!(line["verified"], Value::Bool(false));
    assert_eq!(
        line["missing_events"],
        serde_json::json!([kept + 1, events])
    );
    assert_eq!(line["missing_decisions"], serde_json::json!([1, 2]));
    assert_eq!(line["kind"], "lost");
}

#[tokio::test]
async fn a_record_gone_with_the_tail_is_refused_until_it_is_replaced_on_purpose() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (data, earlier) = (dir.path().join("data"), dir.path().join("earlier"));
    unsigned(&data, &[REGISTER]).await;
    copy_data_dir(&data, &earlier, Record::Copied);
    unsigned(&data, &[ADMIT, &authorize()]).await;
    // The tail and the record lost together, as a backup copied without
    // the record would leave it.
    copy_data_dir(&earlier, &data, Record::Left);
    let record = data.join(icr_log::ACKNOWLEDGED_HEADS_FILE);
    std::fs::remove_file(&record).expect("remove the record");

    let refused = failed(&verify(&data, &[]));
    let expected = format!(
        "error: the record of what was acknowledged ({}) is missing, though this log has kept \
         one",
        record.display()
    );
    assert!(refused.starts_with(&expected), "{refused}");
    assert!(
        refused.contains("`consent-cli verify --data-dir DIR --replace-acknowledged-record`"),
        "{refused}"
    );
    let json = verify(&data, &["--json"]);
    assert_eq!(json.status.code(), Some(1));
    let line: Value = serde_json::from_slice(&json.stdout).expect("one JSON line");
    assert_eq!(line["verified"], Value::Bool(false));
    assert_eq!(line["kind"], "acknowledged_record_missing");
    assert!(!record.exists(), "verify writes no record");

    // Accepting, on purpose, that the lost tail can no longer be detected.
    let replaced = succeeded(&verify(&data, &["--replace-acknowledged-record"]));
    assert!(
        replaced.starts_with("verified up to event position"),
        "{replaced}"
    );
    assert!(record.exists());
    succeeded(&verify(&data, &[]));
}

#[tokio::test]
async fn verify_on_a_directory_in_use_says_so_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let service = Service::start_options(Options::new(&data, PolicyFiles::built_in())).await;
    // Once it answers, it holds the directory.
    succeeded(&cli(&service.endpoint, REGISTER).await);
    let refused = failed(&verify(&data, &[]));
    assert_eq!(
        refused.trim(),
        format!(
            "error: another consent-service (or consent-cli) is using this directory ({}): \
             stop it first, or work on a copy of the directory",
            data.display()
        )
    );
    // The running service itself can be checked over its replay, also
    // without a key.
    let verified = succeeded(&cli(&service.endpoint, &["verify", "--server"]).await);
    assert!(
        verified.ends_with("no signatures were checked (no --public-key)\n"),
        "{verified}"
    );
    service.stop().await;
}

#[tokio::test]
async fn damaged_storage_is_not_blamed_on_a_running_service() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    unsigned(&data, &[REGISTER]).await;
    let (events, _) = heads(&data);
    std::fs::write(data.join("conf"), "segment_size: many\n").expect("damage conf");
    let refused = failed(&verify(&data, &[]));
    let expected = format!(
        "error: the log in {} cannot be opened: its storage is damaged (sled did not say \
         where). Events up to {events} and decisions up to 0 had been acknowledged; the copy \
         restored must hold them. To go on, restore the directory from a verified \
         copy or backup (check a copy with `consent-cli verify --data-dir COPY`) and keep \
         this one for investigation",
        data.display()
    );
    assert_eq!(refused.trim(), expected);
    assert!(!stderr(&verify(&data, &[])).contains("stop it first"));
    let json = verify(&data, &["--json"]);
    assert_eq!(json.status.code(), Some(1));
    let line: Value = serde_json::from_slice(&json.stdout).expect("one JSON line");
    assert_eq!(line["verified"], Value::Bool(false));
    assert_eq!(line["kind"], "damaged");
    assert_eq!(line["acknowledged_event_position"], events);
    assert_eq!(line["reason"], expected.trim_start_matches("error: "));
}

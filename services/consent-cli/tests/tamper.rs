//! Tamper evidence, end to end: a stopped service's data directory is
//! copied, the copy altered behind the log's back with sled itself, and then
//! both `consent-cli verify --data-dir` and the service's own start-up must
//! refuse it, naming the first position that does not verify. Removing the
//! checkpoints themselves cannot break a chain, so verify warns instead.
//!
//! Storage layout (ARCHITECTURE.md): tree `log` holds `e` + position (u64
//! BE) → 32-byte chain hash ‖ event bytes; tree `audit` holds `a` + position
//! → chain hash ‖ decision record bytes.

mod support;

use std::path::Path;

use icr_log::test_util::{Record, copy_data_dir};
use support::{
    ADMIT, KeyPair, NHS, REGISTER, Service, cli, cli_offline, failed, refusal_to_start, succeeded,
};

/// The requester's user id, looked for in decision records' bytes.
const USER: &str = "dr-tamper";

/// A stopped service's directory with a few patient events and decisions,
/// and the key pair its checkpoints are signed with.
struct Stopped {
    dir: tempfile::TempDir,
    keys: KeyPair,
}

impl Stopped {
    /// Runs the service, writes and decides a little, and stops it.
    async fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let keys = KeyPair::generate(dir.path(), "audit");
        let service = Service::start(&dir.path().join("data"), keys.signing_key()).await;
        let endpoint = service.endpoint.as_str();
        succeeded(&cli(endpoint, REGISTER).await);
        succeeded(&cli(endpoint, ADMIT).await);
        for section in ["medications", "allergies", "care_plans"] {
            let authorize = [
                "--user",
                USER,
                "authorize",
                "--nhs",
                NHS,
                "--role",
                "R8000",
                "--org",
                "RKB",
                "--section",
                section,
                "--purpose",
                "direct_care",
            ];
            succeeded(&cli(endpoint, &authorize).await);
        }
        service.stop().await;
        Self { dir, keys }
    }

    /// A fresh copy of the data directory, altered by `tamper` through sled
    /// (flushed and closed before this returns).
    fn altered_copy(&self, name: &str, tamper: impl FnOnce(&sled::Db)) -> std::path::PathBuf {
        let copy = self.dir.path().join(name);
        copy_data_dir(&self.dir.path().join("data"), &copy, Record::Copied);
        let db = sled::open(&copy).expect("open the copy with sled");
        tamper(&db);
        db.flush().expect("flush");
        drop(db);
        copy
    }

    /// Asserts that both the CLI and the service refuse `copy`, naming
    /// `expected`.
    async fn assert_refused(&self, copy: &Path, expected: &str) {
        let data = copy.to_str().expect("UTF-8");
        let verify = cli_offline(&[
            "verify",
            "--data-dir",
            data,
            "--public-key",
            self.keys.public_arg(),
        ]);
        let stderr = failed(&verify);
        assert!(stderr.contains(expected), "`{expected}` not in:\n{stderr}");
        let refusal = refusal_to_start(copy, self.keys.signing_key()).await;
        assert!(
            refusal.contains(expected),
            "`{expected}` not in:\n{refusal}"
        );
    }
}

/// A key of the log: one prefix byte, then a big-endian position.
fn key(prefix: u8, position: u64) -> Vec<u8> {
    let mut key = vec![prefix];
    key.extend_from_slice(&position.to_be_bytes());
    key
}

/// Changes one byte inside the first occurrence of `text` in the value at
/// `key`, keeping it a letter so the record still decodes.
fn flip_inside(tree: &sled::Tree, key: &[u8], text: &str) {
    let mut value = tree.get(key).expect("read").expect("stored").to_vec();
    let at = value
        .windows(text.len())
        .position(|window| window == text.as_bytes())
        .unwrap_or_else(|| panic!("`{text}` not found in the value"));
    value[at] = value[at].to_ascii_uppercase();
    assert_ne!(&value[at..at + text.len()], text.as_bytes());
    tree.insert(key, value).expect("write");
}

#[tokio::test]
async fn an_untouched_copy_verifies_and_serves() {
    let stopped = Stopped::new().await;
    let copy = stopped.altered_copy("copy", |_| {});
    let data = copy.to_str().expect("UTF-8");
    let verified = succeeded(&cli_offline(&[
        "verify",
        "--data-dir",
        data,
        "--public-key",
        stopped.keys.public_arg(),
    ]));
    assert!(verified.contains("and decision position 3;"), "{verified}");
    let service = Service::start(&copy, stopped.keys.signing_key()).await;
    succeeded(&cli(&service.endpoint, &["audit", "checkpoints"]).await);
    service.stop().await;
}

#[tokio::test]
async fn a_changed_byte_in_an_event_is_named_by_position() {
    let stopped = Stopped::new().await;
    let copy = stopped.altered_copy("flipped", |db| {
        let log = db.open_tree("log").expect("log tree");
        // Event 5 is a policy-pack event: its request id is
        // `policy-pack/coventry-warwickshire/4`.
        flip_inside(&log, &key(b'e', 5), "coventry-warwickshire");
    });
    stopped
        .assert_refused(
            &copy,
            "event chain breaks at position 5: content does not match",
        )
        .await;
}

#[tokio::test]
async fn a_removed_event_is_named_by_position() {
    let stopped = Stopped::new().await;
    let copy = stopped.altered_copy("removed", |db| {
        let log = db.open_tree("log").expect("log tree");
        log.remove(key(b'e', 7))
            .expect("remove")
            .expect("was stored");
    });
    stopped
        .assert_refused(
            &copy,
            "event chain breaks at position 7: event 7 is missing",
        )
        .await;
}

#[tokio::test]
async fn swapped_events_are_named_by_the_first_position() {
    let stopped = Stopped::new().await;
    let copy = stopped.altered_copy("swapped", |db| {
        let log = db.open_tree("log").expect("log tree");
        let third = log.get(key(b'e', 3)).expect("read").expect("stored");
        let ninth = log.get(key(b'e', 9)).expect("read").expect("stored");
        log.insert(key(b'e', 3), ninth).expect("write");
        log.insert(key(b'e', 9), third).expect("write");
    });
    stopped
        .assert_refused(
            &copy,
            "event chain breaks at position 3: stored at 3 but records position 9",
        )
        .await;
}

#[tokio::test]
async fn a_changed_byte_in_a_decision_is_named_by_position() {
    let stopped = Stopped::new().await;
    let copy = stopped.altered_copy("decision", |db| {
        let audit = db.open_tree("audit").expect("audit tree");
        flip_inside(&audit, &key(b'a', 2), USER);
    });
    stopped
        .assert_refused(
            &copy,
            "decision chain breaks at position 2: content does not match",
        )
        .await;
}

#[tokio::test]
async fn removed_checkpoints_leave_the_chains_unvouched_for() {
    let stopped = Stopped::new().await;
    let copy = stopped.altered_copy("unsigned", |db| {
        db.drop_tree("checkpoints").expect("drop the checkpoints");
    });
    let data = copy.to_str().expect("UTF-8");
    let public_key = stopped.keys.public_arg();
    let verify = cli_offline(&["verify", "--data-dir", data, "--public-key", public_key]);
    assert!(succeeded(&verify).contains("no checkpoints: nothing is signed yet"));
    let warning = support::stderr(&verify);
    assert!(
        warning.contains("warning: no checkpoint vouches for event positions 1 to"),
        "{warning}"
    );
}

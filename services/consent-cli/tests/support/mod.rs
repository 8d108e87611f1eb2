//! What the CLI's integration tests share: the real `consent-cli` binary,
//! a real service on `127.0.0.1:0`, and the auditor's key pair.

#![allow(
    dead_code,
    reason = "each test crate that includes this module uses a different part of it"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use consent_service::{Options, PolicyFiles, SigningKey};
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// An address where nothing listens: commands given it must not connect.
pub(crate) const NOWHERE: &str = "http://127.0.0.1:9";

/// The patient of the README walk-throughs.
pub(crate) const NHS: &str = "9434765919";

/// `care register-patient`: [`NHS`], an adult at a Coventry practice in
/// the agreement.
pub(crate) const REGISTER: &[&str] = &[
    "care",
    "register-patient",
    "--nhs",
    NHS,
    "--practice",
    "M86003",
    "--dob",
    "1970-01-01",
];

/// `care start`: [`NHS`] admitted to RKB as an inpatient.
pub(crate) const ADMIT: &[&str] = &[
    "care",
    "start",
    "--nhs",
    NHS,
    "--relationship",
    "ae-2026-001",
    "--org",
    "RKB",
    "--kind",
    "inpatient_episode",
];

/// `authorize`: an R8000 clinician at RKB asks for [`NHS`]'s medications
/// for direct care.
pub(crate) const AUTHORIZE_MEDICATIONS: &[&str] = &[
    "authorize",
    "--nhs",
    NHS,
    "--role",
    "R8000",
    "--org",
    "RKB",
    "--section",
    "medications",
    "--purpose",
    "direct_care",
];

/// Runs the CLI binary with `args` against `endpoint`.
pub(crate) async fn cli(endpoint: &str, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_consent-cli"))
        .arg("--endpoint")
        .arg(endpoint)
        .args(args)
        .output()
        .await
        .expect("run consent-cli")
}

/// Runs the CLI binary with `args` and no service to talk to.
pub(crate) fn cli_offline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_consent-cli"))
        .args(["--endpoint", NOWHERE])
        .args(args)
        .output()
        .expect("run consent-cli")
}

/// Standard output as text.
pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Standard error as text.
pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts the command succeeded and returns its standard output.
pub(crate) fn succeeded(output: &Output) -> String {
    assert!(
        output.status.success(),
        "failed with {:?}:\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        stdout(output),
        stderr(output)
    );
    stdout(output)
}

/// Asserts the command exited with status 1 and returns its standard error.
pub(crate) fn failed(output: &Output) -> String {
    assert_eq!(
        output.status.code(),
        Some(1),
        "expected exit status 1:\nstdout:\n{}\nstderr:\n{}",
        stdout(output),
        stderr(output)
    );
    stderr(output)
}

/// The JSON lines of a successful command.
pub(crate) fn json_lines(output: &Output) -> Vec<Value> {
    succeeded(output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// The auditor's key pair, written by `consent-cli audit keygen`.
pub(crate) struct KeyPair {
    /// PREFIX.key.pem.
    pub(crate) private: PathBuf,
    /// PREFIX.pub.pem.
    pub(crate) public: PathBuf,
    /// The public key as hex, as keygen printed it.
    pub(crate) public_hex: String,
    /// The key's fingerprint, as keygen printed it.
    pub(crate) fingerprint: String,
}

impl KeyPair {
    /// Runs `audit keygen --out <dir>/<name>` without a service.
    pub(crate) fn generate(dir: &Path, name: &str) -> Self {
        let prefix = dir.join(name);
        let prefix_text = prefix.to_str().expect("UTF-8 path");
        let output = cli_offline(&["audit", "keygen", "--out", prefix_text, "--json"]);
        let printed: Value = serde_json::from_str(succeeded(&output).trim()).expect("JSON");
        Self {
            private: dir.join(format!("{name}.key.pem")),
            public: dir.join(format!("{name}.pub.pem")),
            public_hex: printed["public_key_hex"]
                .as_str()
                .expect("public_key_hex")
                .to_owned(),
            fingerprint: printed["fingerprint"]
                .as_str()
                .expect("fingerprint")
                .to_owned(),
        }
    }

    /// The signing key, loaded as the service loads `--signing-key`.
    pub(crate) fn signing_key(&self) -> SigningKey {
        consent_service::load_signing_key(&self.private).expect("load the signing key")
    }

    /// The public key file as an argument.
    pub(crate) fn public_arg(&self) -> &str {
        self.public.to_str().expect("UTF-8 path")
    }
}

/// The service running in-process on `127.0.0.1:0`.
pub(crate) struct Service {
    /// Its address, for `--endpoint`.
    pub(crate) endpoint: String,
    stop: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Service {
    /// Starts the service on `data_dir` with the default pack, signing
    /// checkpoints with `key`.
    pub(crate) async fn start(data_dir: &Path, key: SigningKey) -> Self {
        let mut options = Options::new(data_dir, PolicyFiles::built_in());
        options.signing_key = Some(key);
        Self::start_options(options).await
    }

    /// Starts the service with `options`; an `https://` endpoint when they
    /// turn on TLS.
    pub(crate) async fn start_options(options: Options) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let scheme = if options.tls.is_some() {
            "https"
        } else {
            "http"
        };
        let endpoint = format!("{scheme}://{}", listener.local_addr().expect("addr"));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(consent_service::run(listener, options, async {
            let _ = stopped.await;
        }));
        Self {
            endpoint,
            stop,
            task,
        }
    }

    /// Stops the service; once this returns its directory is released (and
    /// a final checkpoint signed).
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.expect("join").expect("clean stop");
    }
}

/// Runs the service on `data_dir` and returns why it refused to start, or
/// panics if it started.
pub(crate) async fn refusal_to_start(data_dir: &Path, key: SigningKey) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let mut options = Options::new(data_dir, PolicyFiles::built_in());
    options.signing_key = Some(key);
    // Told to stop at once: if it did start, it returns Ok.
    match consent_service::run(listener, options, std::future::ready(())).await {
        Ok(()) => panic!("the service started from {}", data_dir.display()),
        Err(error) => format!("{error:#}"),
    }
}

/// A command line written as in the README, split on spaces (for
/// arguments without spaces of their own).
pub(crate) fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// `args` followed by `more`.
pub(crate) fn with<'a>(args: &[&'a str], more: &[&'a str]) -> Vec<&'a str> {
    args.iter().chain(more).copied().collect()
}

/// The JSON lines of `args` run with `--json`, which must succeed.
pub(crate) async fn json(endpoint: &str, args: &[&str]) -> Vec<Value> {
    json_lines(&cli(endpoint, &with(args, &["--json"])).await)
}

/// The log position a write's JSON receipt printed.
pub(crate) async fn write(endpoint: &str, args: &[&str]) -> u64 {
    json(endpoint, args).await[0]["log_position"]
        .as_u64()
        .expect("log_position")
}

/// Runs a command that goes on until stopped (`--follow`); once it says on
/// stderr that it is following, runs `then`, waits for a line of its
/// output containing `wanted`, and stops it. Fails after ten seconds.
pub(crate) async fn follow_until(endpoint: &str, args: &[&str], then: &[&str], wanted: &str) {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_consent-cli"))
        .arg("--endpoint")
        .arg(endpoint)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn consent-cli");
    let mut notes = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut rows = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut seen = Vec::new();
    let following = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while let Some(line) = notes.next_line().await.expect("read stderr") {
            seen.push(line);
            if seen.iter().any(|line| line.contains("Ctrl-C to stop")) {
                return;
            }
        }
    })
    .await;
    assert!(following.is_ok(), "not following: {seen:?}");
    assert!(seen[0].starts_with("caught up at position"), "{seen:?}");
    succeeded(&cli(endpoint, then).await);
    let mut printed = Vec::new();
    let arrived = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while let Some(line) = rows.next_line().await.expect("read stdout") {
            let found = line.contains(wanted);
            printed.push(line);
            if found {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(arrived, Ok(true), "no `{wanted}` in {printed:?}");
    child.kill().await.expect("stop following");
}

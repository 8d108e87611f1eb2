//! The `consent-service` binary as each scenario's service: a child process
//! on `127.0.0.1:0` over its own temporary directory, holding the pack under
//! test, killed when the scenario is done.
//!
//! The child is started with its JSON log lines on stdout, and its address
//! is read from its `serving` line. Every `ICR_*` and `OTEL_*` variable is
//! kept from it, so a configuration meant for a real service (TLS, a
//! signing key, an exporter) does not reach the scenarios'. It is killed
//! on every way out: a stop, a start that failed or ran out of time, and a
//! drop (a scenario that panicked), with `kill_on_drop`.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Result, bail};
use icr_packs::PolicyFiles;
use icr_scenarios::{RunningService, StartService};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;
use tonic::transport::Channel;

/// The service binary's name, beside `consent-cli` when both are built or
/// installed together.
const SERVICE_BINARY: &str = "consent-service";
/// Longest a service may take to say it is serving.
const START_GIVE_UP: Duration = Duration::from_secs(60);
/// Longest a service that closed its output may take to exit.
const EXIT_GIVE_UP: Duration = Duration::from_secs(10);
/// Lines of the service's stderr kept for an error message.
const KEPT_LINES: usize = 20;

/// Starts each scenario's service as a child process of this binary.
#[derive(Debug, Clone)]
pub(crate) struct ServiceBinary {
    path: PathBuf,
}

impl ServiceBinary {
    /// The binary `given` names (`--service-binary`), or else the
    /// `consent-service` beside this program's own executable.
    pub(crate) fn find(given: Option<&Path>) -> Result<Self> {
        if let Some(path) = given {
            if path.is_file() {
                return Ok(Self {
                    path: path.to_owned(),
                });
            }
            bail!(
                "--service-binary {}: no such file; give the path of a built consent-service \
                 binary (`cargo build -p consent-service` puts it in target/debug/)",
                path.display()
            );
        }
        let own = std::env::current_exe()
            .map_err(|e| anyhow::anyhow!("finding consent-cli's own path: {e}"))?;
        let beside =
            own.with_file_name(format!("{SERVICE_BINARY}{}", std::env::consts::EXE_SUFFIX));
        Self::beside(&beside)
    }

    /// The binary at `beside`, or the error that says how to get one.
    fn beside(beside: &Path) -> Result<Self> {
        if beside.is_file() {
            return Ok(Self {
                path: beside.to_owned(),
            });
        }
        bail!(
            "policy test runs each scenario against a consent-service binary it starts, and \
             there is none beside consent-cli ({}): build it with `cargo build -p \
             consent-service` (or install it beside consent-cli), or name it with \
             --service-binary or ICR_SERVICE_BINARY",
            beside.display()
        )
    }
}

/// A `consent-service` child process serving one scenario.
pub(crate) struct ChildService {
    channel: Channel,
    child: Child,
    stderr: Arc<Mutex<VecDeque<String>>>,
    /// Removed when dropped, after the child is killed.
    _dir: tempfile::TempDir,
}

impl StartService for ServiceBinary {
    type Running = ChildService;

    async fn start(&self, files: &PolicyFiles) -> Result<ChildService, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
        let policies = dir.path().join("policies");
        files
            .write_to_dir(&policies)
            .map_err(|e| format!("{e:#}"))?;
        let mut command = Command::new(&self.path);
        command
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .arg("--policies-dir")
            .arg(&policies)
            .arg("--policy-pack")
            .arg(&files.pack_name)
            .arg("--log-format")
            .arg("json");
        for (name, _) in std::env::vars_os() {
            let name_text = name.to_string_lossy();
            if name_text.starts_with("ICR_") || name_text.starts_with("OTEL_") {
                command.env_remove(&name);
            }
        }
        let mut child = command
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", self.path.display()))?;
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        let (serving, address) = oneshot::channel();
        if let (Some(out), Some(err)) = (child.stdout.take(), child.stderr.take()) {
            tokio::spawn(watch_stdout(out, serving));
            tokio::spawn(keep_tail(err, Arc::clone(&stderr)));
        }
        let address = match tokio::time::timeout(START_GIVE_UP, address).await {
            Ok(Ok(address)) => address,
            Ok(Err(_)) => {
                // Its stdout closed without a `serving` line: it is exiting.
                let status = match tokio::time::timeout(EXIT_GIVE_UP, child.wait()).await {
                    Ok(Ok(status)) => status.to_string(),
                    Ok(Err(e)) => e.to_string(),
                    Err(_) => {
                        let _ = child.kill().await;
                        "it closed its output but did not exit, and was killed".to_owned()
                    }
                };
                // Its last words may still be on their way through the pipe.
                tokio::time::sleep(Duration::from_millis(100)).await;
                return Err(format!(
                    "{} exited before serving ({status}): {}",
                    self.path.display(),
                    tail(&stderr)
                ));
            }
            Err(_) => {
                let _ = child.kill().await;
                return Err(format!(
                    "{} did not say it was serving within {START_GIVE_UP:?}: {}",
                    self.path.display(),
                    tail(&stderr)
                ));
            }
        };
        let channel = Channel::from_shared(format!("http://{address}"))
            .map_err(|e| e.to_string())?
            .connect_lazy();
        Ok(ChildService {
            channel,
            child,
            stderr,
            _dir: dir,
        })
    }
}

impl RunningService for ChildService {
    fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// Kills the child: its directory is thrown away, so there is nothing
    /// to drain or flush. A child that already exited failed while the
    /// scenario ran, and says so.
    async fn stop(mut self) -> Result<(), String> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Err(format!(
                "the service exited ({status}): {}",
                tail(&self.stderr)
            ));
        }
        self.child
            .kill()
            .await
            .map_err(|e| format!("stopping the service: {e}"))
    }
}

/// Reads the child's log lines, sending the address of its `serving` line
/// once, and then reads on so that the child never blocks on a full pipe.
async fn watch_stdout(from: impl AsyncRead + Unpin, serving: oneshot::Sender<String>) {
    let mut serving = Some(serving);
    let mut lines = BufReader::new(from).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(address) = serving_address(&line)
            && let Some(serving) = serving.take()
        {
            let _ = serving.send(address);
        }
    }
}

/// Keeps the last [`KEPT_LINES`] lines of `from` in `kept`.
async fn keep_tail(from: impl AsyncRead + Unpin, kept: Arc<Mutex<VecDeque<String>>>) {
    let mut lines = BufReader::new(from).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Ok(mut kept) = kept.lock() {
            if kept.len() == KEPT_LINES {
                kept.pop_front();
            }
            kept.push_back(line);
        }
    }
}

/// The kept lines, as one message.
fn tail(kept: &Mutex<VecDeque<String>>) -> String {
    let lines = kept
        .lock()
        .map(|kept| kept.iter().cloned().collect::<Vec<_>>().join("\n"))
        .unwrap_or_default();
    if lines.is_empty() {
        "it printed nothing on stderr".to_owned()
    } else {
        lines
    }
}

/// The address of a JSON `serving` log line
/// (`{"fields":{"message":"serving","local":"127.0.0.1:50051",…},…}`).
fn serving_address(line: &str) -> Option<String> {
    let line: serde_json::Value = serde_json::from_str(line).ok()?;
    let fields = line.get("fields")?;
    if fields.get("message")?.as_str()? != "serving" {
        return None;
    }
    Some(fields.get("local")?.as_str()?.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_comes_from_the_serving_line_only() {
        let serving = r#"{"timestamp":"t","level":"INFO","fields":{"message":"serving","local":"127.0.0.1:41234","position":7},"target":"consent_service::run"}"#;
        assert_eq!(serving_address(serving).as_deref(), Some("127.0.0.1:41234"));
        let other = r#"{"fields":{"message":"effective configuration","local":"127.0.0.1:1"}}"#;
        assert_eq!(serving_address(other), None);
        assert_eq!(serving_address("serving local=127.0.0.1:1"), None);
    }

    #[test]
    fn a_missing_service_binary_says_how_to_get_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let error =
            ServiceBinary::beside(&dir.path().join(SERVICE_BINARY)).expect_err("nothing there");
        let message = error.to_string();
        assert!(
            message.contains("there is none beside consent-cli")
                && message.contains("cargo build -p consent-service")
                && message.contains("--service-binary or ICR_SERVICE_BINARY"),
            "{message}"
        );
        let named = dir.path().join("no-such-binary");
        let error = ServiceBinary::find(Some(&named)).expect_err("nothing there");
        assert!(
            error.to_string().contains(
                "no-such-binary: no such file; give the path of a built consent-service binary"
            ),
            "{error}"
        );
    }
}

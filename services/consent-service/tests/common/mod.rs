//! The real `consent-service` binary as a child process, for the tests that
//! kill it or starve it of disk, and the requests they send it.
#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use consent_service::CALLING_SYSTEM_HEADER;
use icr_proto::pb::access_decision_service_client::AccessDecisionServiceClient;
use icr_proto::pb::audit_service_client::AuditServiceClient;
use icr_proto::pb::care_context_service_client::CareContextServiceClient;
use icr_proto::pb::consent_service_client::ConsentServiceClient;
use icr_proto::pb::event_payload::Kind;
use icr_proto::pb::{GetConsentStatusRequest, ReadEventsRequest, RecordedEvent, WriteResult};
use tonic::service::interceptor::InterceptedService;

mod requests;
// Each test binary uses some of them.
#[allow(unused_imports)]
pub use requests::{admit, clinician_asks, objection, patients, withdrawal};
use tonic::transport::Channel;

/// How long a start may take before the test gives up and shows the
/// service's output: a guard against a hang, not a measurement.
const START_GIVE_UP: Duration = Duration::from_secs(120);

/// How long a service that should stop by itself may take: a guard
/// against a hang, not a measurement.
const EXIT_GIVE_UP: Duration = Duration::from_secs(30);

/// Adds the calling-system header to every call.
#[derive(Clone)]
pub struct CallingSystem;

impl tonic::service::Interceptor for CallingSystem {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        let value = tonic::metadata::MetadataValue::from_static("crash-test");
        request.metadata_mut().insert(CALLING_SYSTEM_HEADER, value);
        Ok(request)
    }
}

/// A channel that adds the calling-system header.
pub type Intercepted = InterceptedService<Channel, CallingSystem>;

/// The service binary running over a data directory.
pub struct Service {
    child: Child,
    /// `http://` address it serves on.
    pub endpoint: String,
    /// Everything it printed, for failure messages.
    pub output: Arc<Mutex<Vec<String>>>,
}

impl Service {
    /// Starts the binary on `127.0.0.1:0` over `data_dir` with `extra`
    /// arguments, and waits for its `serving` line, which names the address.
    pub fn start(data_dir: &Path, extra: &[&str]) -> Self {
        Self::try_start(data_dir, extra)
            .unwrap_or_else(|printed| panic!("the service did not start:\n{printed}"))
    }

    /// Like [`Service::start`], but a service that exits before serving
    /// gives what it printed, with its exit status last.
    pub fn try_start(data_dir: &Path, extra: &[&str]) -> Result<Self, String> {
        Self::try_start_with_env(data_dir, extra, &[])
    }

    /// Like [`Service::try_start`], with `env` set for the process.
    pub fn try_start_with_env(
        data_dir: &Path,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Self, String> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_consent-service"))
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(data_dir)
            .args(extra)
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            // Only a test that sets OpenTelemetry variables exports.
            .envs(otel_unset())
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the service binary");
        let output = Arc::new(Mutex::new(Vec::new()));
        let (lines, received) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        forward(stdout, lines.clone(), Arc::clone(&output));
        forward(stderr, lines, Arc::clone(&output));
        loop {
            match received.recv_timeout(START_GIVE_UP) {
                Ok(line) => {
                    if let Some(address) = serving_address(&line) {
                        let endpoint = format!("http://{address}");
                        return Ok(Self {
                            child,
                            endpoint,
                            output,
                        });
                    }
                }
                // Both pipes closed (the process ended) or the guard ran out.
                Err(_) => {
                    let _ = child.kill();
                    let status = child.wait().expect("wait");
                    let printed = output.lock().expect("output").join("\n");
                    return Err(format!("{printed}\n{status}"));
                }
            }
        }
    }

    /// Kills the process with SIGKILL (no shutdown of any kind) and reaps it.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// Sends SIGTERM, which asks for a graceful shutdown.
    pub fn terminate(&self) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM failed: {sent}");
    }

    /// Waits for the process to exit by itself and returns its status; one
    /// still running after [`EXIT_GIVE_UP`] fails the test with its output
    /// (a guard against a hang, not a measurement).
    pub fn wait(self) -> std::process::ExitStatus {
        self.wait_at_most(EXIT_GIVE_UP)
    }

    /// Like [`Service::wait`], giving up after `give_up`.
    pub fn wait_at_most(mut self, give_up: Duration) -> std::process::ExitStatus {
        let began = std::time::Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            if began.elapsed() > give_up {
                panic!("the service did not exit:\n{}", self.printed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Everything printed so far.
    pub fn printed(&self) -> String {
        self.output.lock().expect("output").join("\n")
    }

    fn channel(&self) -> Intercepted {
        let channel = Channel::from_shared(self.endpoint.clone())
            .expect("uri")
            .connect_lazy();
        InterceptedService::new(channel, CallingSystem)
    }

    /// A client for consent writes and status.
    pub fn consent(&self) -> ConsentServiceClient<Intercepted> {
        ConsentServiceClient::new(self.channel())
    }

    /// A client for the audit (replay) service.
    pub fn audit(&self) -> AuditServiceClient<Intercepted> {
        AuditServiceClient::new(self.channel())
    }

    /// A client for the care feeds (registrations, care relationships).
    pub fn care(&self) -> CareContextServiceClient<Intercepted> {
        CareContextServiceClient::new(self.channel())
    }

    /// A client for access decisions.
    pub fn decisions(&self) -> AccessDecisionServiceClient<Intercepted> {
        AccessDecisionServiceClient::new(self.channel())
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Clears every `OTEL_*` variable the test process has, so that a
/// developer's or CI's settings do not reach the service.
fn otel_unset() -> Vec<(String, String)> {
    std::env::vars()
        .filter(|(name, _)| name.starts_with("OTEL_"))
        .map(|(name, _)| (name, String::new()))
        .collect()
}

/// Sends each line of `from` to `lines` and keeps a copy in `output`.
fn forward(
    from: impl Read + Send + 'static,
    lines: mpsc::Sender<String>,
    output: Arc<Mutex<Vec<String>>>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines().map_while(Result::ok) {
            output.lock().expect("output").push(line.clone());
            let _ = lines.send(line);
        }
    });
}

/// The address in the service's `serving ... local=ADDRESS ...` log line
/// (or `"local":"ADDRESS"` in JSON).
fn serving_address(line: &str) -> Option<String> {
    if !line.contains("serving") {
        return None;
    }
    let rest = line
        .split("local=")
        .nth(1)
        .or_else(|| line.split("\"local\":\"").nth(1))?;
    let address: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '[' | ']'))
        .collect();
    Some(address)
}

/// Every event in the log, in order, through `AuditService/ReadEvents`.
pub async fn all_events(audit: &mut AuditServiceClient<Intercepted>) -> Vec<RecordedEvent> {
    let mut stream = audit
        .read_events(ReadEventsRequest {
            from_position: 1,
            ..Default::default()
        })
        .await
        .expect("read events")
        .into_inner();
    let mut events = Vec::new();
    while let Some(item) = stream.message().await.expect("event") {
        events.extend(item.event);
    }
    events
}

/// A patient's consent as folded from the events: active objection scopes
/// and stream version.
pub type Folded = BTreeMap<String, (BTreeSet<i32>, u64)>;

/// Folds the patients' objections and stream versions from `events`.
pub fn fold(events: &[RecordedEvent]) -> Folded {
    let mut folded = Folded::new();
    for event in events {
        let Some(nhs) = event.stream.strip_prefix("patient/") else {
            continue;
        };
        let (objections, version) = folded.entry(nhs.to_owned()).or_default();
        *version = event.stream_version;
        match event.payload.as_ref().and_then(|p| p.kind.as_ref()) {
            Some(Kind::ObjectionRecorded(e)) => {
                objections.insert(e.scope);
            }
            Some(Kind::ObjectionWithdrawn(e)) => {
                objections.remove(&e.scope);
            }
            _ => {}
        }
    }
    folded
}

/// Checks that the service's `GetConsentStatus` of every patient equals the
/// state folded from `events` (read up to `head`).
pub async fn assert_status_matches(
    consent: &mut ConsentServiceClient<Intercepted>,
    patients: &[String],
    events: &[RecordedEvent],
    what: &str,
) {
    let folded = fold(events);
    let head = events.last().map_or(0, |e| e.position);
    for nhs in patients {
        let status = consent
            .get_consent_status(GetConsentStatusRequest {
                nhs_number: nhs.clone(),
                min_log_position: head,
            })
            .await
            .expect("consent status")
            .into_inner();
        let served: BTreeSet<i32> = status.active_objections.iter().copied().collect();
        let (expected, version) = folded.get(nhs).cloned().unwrap_or_default();
        assert_eq!(
            (served, status.stream_version),
            (expected, version),
            "{what}: the status of {nhs} differs from a fold of the log"
        );
    }
}

/// The stored events by request id.
pub fn by_request(events: &[RecordedEvent]) -> HashMap<&str, Vec<&RecordedEvent>> {
    let mut found: HashMap<&str, Vec<&RecordedEvent>> = HashMap::new();
    for event in events {
        found.entry(&event.request_id).or_default().push(event);
    }
    found
}

/// Asserts positions run gapless from 1, and that each acknowledged write
/// (request id, the result it was acknowledged with) is stored exactly once,
/// as acknowledged.
pub fn assert_stored_as_acknowledged<'a>(
    events: &[RecordedEvent],
    acknowledged: impl IntoIterator<Item = (&'a str, &'a WriteResult)>,
) {
    for (expected, event) in (1..).zip(events) {
        assert_eq!(event.position, expected, "positions are gapless from 1");
    }
    let found = by_request(events);
    for (request_id, result) in acknowledged {
        let stored = found.get(request_id).map_or(&[][..], Vec::as_slice);
        assert_eq!(stored.len(), 1, "acknowledged {request_id} stored once");
        assert_eq!(
            (&stored[0].id, stored[0].position),
            (&result.event_id, result.log_position),
            "acknowledged {request_id} stored as acknowledged"
        );
    }
}

/// One write a client sent.
#[derive(Debug, Clone)]
pub struct Sent {
    /// Its request id.
    pub request_id: String,
    /// The patient.
    pub nhs: String,
    /// Objection (true) or withdrawal (false).
    pub objects: bool,
}

//! Running scenarios: a fresh service per scenario, the `given` steps, the
//! `when` request, and the comparison with `then`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use consent_service::{Options, PolicyFiles};
use icr_proto::pb;
use tokio::sync::{Semaphore, oneshot};
use tokio::task::{JoinHandle, JoinSet};
use tonic::transport::Channel;

use crate::apply::{self, Clients, StepFailure, USER, call};
use crate::format::{Scenario, ScenarioFile, Then};
use crate::names::{code_name, short_name};
use crate::report::{Report, ScenarioResult};

/// Longest one scenario may take, service start and stop included.
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(60);
/// Most scenarios run at once. Each has its own service and directory, so
/// they cannot see each other; the limit only bounds open files and threads.
const MAX_PARALLEL: usize = 8;

/// Runs every scenario, each against a fresh service with `files`, and
/// reports on each in load order.
pub async fn run(files: &PolicyFiles, scenarios: &ScenarioFile) -> Report {
    let files = Arc::new(files.clone());
    let parallel = std::thread::available_parallelism()
        .map_or(2, |n| n.get() * 2)
        .clamp(2, MAX_PARALLEL);
    let permits = Arc::new(Semaphore::new(parallel));
    let mut tasks = JoinSet::new();
    for (index, scenario) in scenarios.scenarios.iter().cloned().enumerate() {
        let (files, permits) = (Arc::clone(&files), Arc::clone(&permits));
        tasks.spawn(async move {
            // The semaphore is never closed, so acquiring cannot fail.
            let _permit = permits.acquire_owned().await.ok();
            (index, run_one(&files, &scenario).await)
        });
    }
    let mut results: Vec<Option<ScenarioResult>> = vec![None; scenarios.scenarios.len()];
    while let Some(joined) = tasks.join_next().await {
        if let Ok((index, result)) = joined {
            results[index] = Some(result);
        }
    }
    let results = results
        .into_iter()
        .zip(&scenarios.scenarios)
        .map(|(result, scenario)| {
            result.unwrap_or_else(|| ScenarioResult {
                name: scenario.name.clone(),
                file: scenario.file.clone(),
                failure: Some("the scenario's task panicked".into()),
                elapsed: Duration::ZERO,
            })
        })
        .collect();
    Report { results }
}

/// Runs one scenario against its own service.
async fn run_one(files: &PolicyFiles, scenario: &Scenario) -> ScenarioResult {
    let started = Instant::now();
    let failure = match Service::start(files.clone()).await {
        Err(error) => Some(format!("could not start the service: {error}")),
        Ok(service) => {
            let mut clients = Clients::new(service.channel.clone());
            let checked = tokio::time::timeout(SCENARIO_TIMEOUT, check(&mut clients, scenario))
                .await
                .unwrap_or_else(|_| Err(format!("timed out after {SCENARIO_TIMEOUT:?}")));
            drop(clients);
            match (checked, service.stop().await) {
                (Ok(()), Ok(())) => None,
                (Err(why), Ok(())) => Some(why),
                (Ok(()), Err(server)) => Some(format!("the service failed: {server}")),
                (Err(why), Err(server)) => Some(format!("the service failed: {server} ({why})")),
            }
        }
    };
    ScenarioResult {
        name: scenario.name.clone(),
        file: scenario.file.clone(),
        failure,
        elapsed: started.elapsed(),
    }
}

/// Applies the steps, asks the question and compares the answer.
async fn check(clients: &mut Clients, scenario: &Scenario) -> Result<(), String> {
    for (index, step) in scenario.given.iter().enumerate() {
        let what = format!("given step {} ({})", index + 1, step.action.name());
        let outcome = apply::apply(clients, &step.action).await;
        match (outcome, step.expect) {
            (Ok(()), None) => {}
            (Ok(()), Some(expected)) => {
                return Err(format!(
                    "{what}: expected it to fail with {}, but it succeeded",
                    code_name(expected.0)
                ));
            }
            (Err(StepFailure::Refused(status)), Some(expected)) if status.code() == expected.0 => {}
            (Err(StepFailure::Refused(status)), expected) => {
                let wanted = expected.map_or_else(
                    || "expected success".to_owned(),
                    |c| format!("expected {}", code_name(c.0)),
                );
                return Err(format!(
                    "{what} failed ({wanted}): {}: {}",
                    code_name(status.code()),
                    status.message()
                ));
            }
            (Err(StepFailure::Unusable(why)), _) => return Err(format!("{what}: {why}")),
        }
    }
    let when = &scenario.when;
    let request = pb::AuthorizeRequest {
        nhs_number: when.nhs.clone(),
        requester: Some(pb::Requester {
            user_id: when.user.clone().unwrap_or_else(|| USER.into()),
            role_code: when.role.clone(),
            organisation_ods: when.org.clone(),
        }),
        section: when.section.number(),
        purpose: when
            .purpose
            .map_or(pb::Purpose::DirectCare.into(), |p| p.number()),
        source_organisation_ods: when.source_org.clone().unwrap_or_default(),
        min_log_position: 0,
        access_mode: when
            .mode
            .map_or(pb::AccessMode::Normal.into(), |m| m.number()),
        access_reason: when.reason.clone().unwrap_or_default(),
    };
    let decision = clients
        .decisions
        .authorize(call(request))
        .await
        .map_err(|s| {
            format!(
                "when: Authorize failed: {}: {}",
                code_name(s.code()),
                s.message()
            )
        })?
        .into_inner()
        .decision
        .ok_or("when: Authorize answered without a decision")?;
    compare(&scenario.then, &decision)?;
    if scenario.then.recorded {
        crate::recorded::check(clients, &scenario.when, &decision).await?;
    }
    Ok(())
}

/// Compares a decision with what `then` expects.
fn compare(then: &Then, decision: &pb::Decision) -> Result<(), String> {
    let outcome = pb::Outcome::try_from(decision.outcome)
        .map_or_else(|_| format!("unknown({})", decision.outcome), short_name);
    let wanted = short_name(then.outcome.0);
    let reason_differs = then.reason.as_ref().is_some_and(|r| *r != decision.reason);
    if outcome != wanted || reason_differs {
        let expected = match &then.reason {
            Some(reason) => format!("{wanted} ({reason})"),
            None => wanted,
        };
        return Err(format!(
            "expected {expected}, got {outcome} ({}: {})",
            decision.reason, decision.explanation
        ));
    }
    // Obligations are compared as a set: an allow must carry exactly those
    // listed (none when none are listed), so a missing review or an
    // unexpected one both fail.
    let mut got: Vec<&str> = decision
        .obligations
        .iter()
        .map(|o| o.kind.as_str())
        .collect();
    let mut wanted_kinds: Vec<&str> = then.obligations.iter().map(String::as_str).collect();
    got.sort_unstable();
    wanted_kinds.sort_unstable();
    if got != wanted_kinds {
        return Err(format!(
            "{outcome} as expected, but obligations were [{}], expected [{}]",
            got.join(", "),
            wanted_kinds.join(", ")
        ));
    }
    Ok(())
}

/// A service on `127.0.0.1:0` over its own temporary directory.
struct Service {
    channel: Channel,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), String>>,
    /// Removed when the service is dropped, after it stopped.
    _dir: tempfile::TempDir,
}

impl Service {
    /// Starts the service; calls wait for it to finish loading the pack.
    async fn start(policy: PolicyFiles) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("binding 127.0.0.1:0: {e}"))?;
        let address = listener.local_addr().map_err(|e| e.to_string())?;
        let channel = Channel::from_shared(format!("http://{address}"))
            .map_err(|e| e.to_string())?
            .connect_lazy();
        let (stop, stopped) = oneshot::channel::<()>();
        let options = Options::new(dir.path(), policy);
        let task = tokio::spawn(async move {
            consent_service::run(listener, options, async {
                let _ = stopped.await;
            })
            .await
            .map_err(|e| format!("{e:#}"))
        });
        Ok(Self {
            channel,
            stop,
            task,
            _dir: dir,
        })
    }

    /// Stops the service and waits for it; its error, if it failed.
    async fn stop(self) -> Result<(), String> {
        let _ = self.stop.send(());
        drop(self.channel);
        let outcome = match self.task.await {
            Ok(outcome) => outcome,
            Err(join) => Err(format!("the service task ended abnormally: {join}")),
        };
        drop(self._dir);
        outcome
    }
}

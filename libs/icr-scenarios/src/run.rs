//! Running scenarios: a fresh service per scenario, the `given` steps, the
//! `when` request, and the comparison with `then`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use icr_packs::PolicyFiles;
use icr_proto::pb;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::apply::{self, Clients, StepFailure, USER, call};
use crate::format::{Scenario, ScenarioFile, Then};
use crate::names::{code_name, short_name};
use crate::report::{Report, ScenarioResult};
use crate::service::{RunningService, StartService};

/// Longest one scenario's steps and question may take once its service is
/// serving; starting and stopping the service have their own bounds (the
/// [`StartService`] given).
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(60);
/// Most scenarios run at once. Each has its own service and directory, so
/// they cannot see each other; the limit only bounds open files and threads.
const MAX_PARALLEL: usize = 8;

/// Runs every scenario, each against a fresh service that `services`
/// starts with `files`, and reports on each in load order.
pub async fn run<S: StartService>(
    services: S,
    files: &PolicyFiles,
    scenarios: &ScenarioFile,
) -> Report {
    let services = Arc::new(services);
    let files = Arc::new(files.clone());
    let parallel = std::thread::available_parallelism()
        .map_or(2, |n| n.get() * 2)
        .clamp(2, MAX_PARALLEL);
    let permits = Arc::new(Semaphore::new(parallel));
    let mut tasks = JoinSet::new();
    for (index, scenario) in scenarios.scenarios.iter().cloned().enumerate() {
        let (files, permits) = (Arc::clone(&files), Arc::clone(&permits));
        let services = Arc::clone(&services);
        tasks.spawn(async move {
            // The semaphore is never closed, so acquiring cannot fail.
            let _permit = permits.acquire_owned().await.ok();
            (index, run_one(&*services, &files, &scenario).await)
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
async fn run_one<S: StartService>(
    services: &S,
    files: &PolicyFiles,
    scenario: &Scenario,
) -> ScenarioResult {
    let started = Instant::now();
    let failure = match services.start(files).await {
        Err(error) => Some(format!("could not start the service: {error}")),
        Ok(service) => {
            let mut clients = Clients::new(service.channel());
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

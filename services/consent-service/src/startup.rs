//! First start: the default policy pack goes into an empty log as policy
//! events, through the same validation and write path as the policy RPCs.

use anyhow::Context;
use icr_log::{EventLog, LogError};
use icr_proto::pb::Actor;

use crate::aggregates::Aggregates;
use crate::api::validate_policy_event;
use crate::policy_files::PolicyFiles;
use crate::view::View;
use crate::writes::{self, Command, fingerprint};

/// Whether a request id is already in the log (with any content).
async fn recorded<L: EventLog>(
    log: &L,
    request_id: &str,
    fingerprint: &[u8],
) -> anyhow::Result<bool> {
    match log.find_request(request_id, fingerprint).await {
        Ok(found) => Ok(found.is_some()),
        Err(LogError::RequestIdReused(_)) => Ok(true),
        Err(other) => Err(other.into()),
    }
}

/// Loads the pack when the log is empty, or finishes a load a crash
/// interrupted. Each event has a fixed request id, so a repeat appends nothing.
/// Later policy changes are made through the policy RPCs, never by editing
/// the pack of a running deployment.
pub(crate) async fn load_pack_if_new<L: EventLog>(
    log: &L,
    view: &View,
    files: &PolicyFiles,
) -> anyhow::Result<()> {
    let events = files.pack_events()?;
    let request_id = |i: usize| format!("policy-pack/{}/{i}", files.pack_name);
    let fingerprints: Vec<_> = events
        .iter()
        .map(|e| fingerprint("PolicyPack", e))
        .collect();
    let (Some(first), Some(last)) = (fingerprints.first(), fingerprints.last()) else {
        return Ok(());
    };
    let empty = *log.subscribe().borrow() == 0;
    let interrupted = recorded(log, &request_id(0), first).await?
        && !recorded(log, &request_id(events.len() - 1), last).await?;
    if !empty && !interrupted {
        return Ok(());
    }
    tracing::info!(pack = %files.pack_name, events = events.len(), "loading policy pack into the log");
    let actor = Actor {
        calling_system: "consent-service".into(),
        user_id: format!("policy-pack/{}", files.pack_name),
        on_behalf_of: String::new(),
    };
    let aggregates = Aggregates::new();
    for (i, (payload, fingerprint)) in events.into_iter().zip(fingerprints).enumerate() {
        validate_policy_event(&payload)
            .with_context(|| format!("policy pack {} entry {i}", files.pack_name))?;
        if recorded(log, &request_id(i), &fingerprint).await? {
            continue;
        }
        let command = Command {
            request_id: request_id(i),
            fingerprint,
            expected_version: None,
            actor: actor.clone(),
            payload,
        };
        writes::execute(log, view, &aggregates, command)
            .await
            .with_context(|| format!("loading policy pack {} entry {i}", files.pack_name))?;
    }
    Ok(())
}

//! First start: the default policy pack goes into an empty log as policy
//! events, through the same validation and write path as the policy RPCs.

use anyhow::Context;
use icr_log::{EventLog, LogError};
use icr_packs::validate_policy_event;
use icr_proto::pb::Actor;

use crate::aggregates::Aggregates;
use crate::policy_files::PolicyFiles;
use crate::view::View;
use crate::writes::{self, Command, fingerprint};

/// Whether a request id is already in the log, and with what content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recorded {
    /// Not in the log.
    No,
    /// In the log with this content.
    Same,
    /// In the log with other content: an earlier version of the pack.
    Different,
}

/// Whether `request_id` is in the log, and whether with `fingerprint`.
async fn recorded<L: EventLog>(
    log: &L,
    request_id: &str,
    fingerprint: &[u8],
) -> anyhow::Result<Recorded> {
    match log.find_request(request_id, fingerprint).await {
        Ok(Some(_)) => Ok(Recorded::Same),
        Ok(None) => Ok(Recorded::No),
        Err(LogError::RequestIdReused(_)) => Ok(Recorded::Different),
        Err(other) => Err(other.into()),
    }
}

/// Loads the pack when the log is empty, or finishes a load a crash
/// interrupted. Each event has a fixed request id, so a repeat appends nothing.
/// Later policy changes are made through the policy RPCs, never by editing
/// the pack of a running deployment; a pack that is not loaded because the
/// log already holds policy is named in a warning that says so.
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
    let first = recorded(log, &request_id(0), first).await?;
    let last = recorded(log, &request_id(events.len() - 1), last).await?;
    let interrupted = first != Recorded::No && last == Recorded::No;
    if !empty && !interrupted {
        say_pack_not_loaded(&files.pack_name, first, last);
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
        if recorded(log, &request_id(i), &fingerprint).await? != Recorded::No {
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

/// Says why the pack given at start was not loaded into a log that already
/// holds policy: the log's own policy applies, and `policy apply` is how
/// to change it. A restart with the pack the log was started with is not
/// news, and is said quietly.
fn say_pack_not_loaded(pack: &str, first: Recorded, last: Recorded) {
    const CHANGE: &str = "the policy in the log applies; to change it, run \
        `consent-cli policy apply <PACK_DIR>` against the running service";
    match (first, last) {
        (Recorded::Same, Recorded::Same) => tracing::info!(
            %pack,
            "policy pack {pack} was loaded at first start; {CHANGE}"
        ),
        (Recorded::No, _) => tracing::warn!(
            %pack,
            "--policy-pack {pack} was not loaded: this data directory already holds \
             policy (another pack's, or written through the policy RPCs); {CHANGE}"
        ),
        _ => tracing::warn!(
            %pack,
            "--policy-pack {pack} was not loaded: this data directory holds an earlier \
             version of that pack; {CHANGE}"
        ),
    }
}

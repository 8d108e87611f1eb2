//! The write path: idempotency check → load the stream → decide → durable
//! append → wait for the projections.

use std::time::Duration;

use icr_events::{FieldError, StreamId, event_type};
use icr_log::{AppendRequest, Appended, EventLog, ExpectedVersion, LogError, PendingEvent};
use icr_proto::pb::{Actor, EventPayload, WriteResult};
use prost::Message;
use sha2::{Digest, Sha256};
use tonic::metadata::MetadataMap;

use crate::aggregates::Aggregates;
use crate::calling_system::calling_system;
use crate::status::{ServiceError, ServiceResult};
use crate::validate;
use crate::view::View;

/// How often a write without an explicit expected version is retried when
/// another write to the same stream slipped in between read and append.
const CONFLICT_RETRIES: usize = 3;

/// How long an acknowledged write waits for the projections to show it, so
/// that a read straight after it sees it. The write is durable either way.
const PROJECTION_WAIT: Duration = Duration::from_secs(2);

/// One write, ready to be checked and appended.
#[derive(Debug, Clone)]
pub(crate) struct Command {
    /// Client request id.
    pub(crate) request_id: String,
    /// Digest of the request without its id.
    pub(crate) fingerprint: Vec<u8>,
    /// Stream version the client expects, if it said.
    pub(crate) expected_version: Option<u64>,
    /// Who is writing.
    pub(crate) actor: Actor,
    /// The proposed event.
    pub(crate) payload: EventPayload,
}

/// Digest identifying a request's content: the RPC name and the encoded
/// request with its request id cleared.
pub(crate) fn fingerprint(rpc: &str, request: &impl Message) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(rpc.as_bytes());
    hasher.update([0]);
    hasher.update(request.encode_to_vec());
    hasher.finalize().to_vec()
}

/// The actor of a write: the calling system from metadata, the user from the
/// request, and the patient when an attorney acts for them.
pub(crate) fn actor(
    metadata: &MetadataMap,
    user_id: &str,
    on_behalf_of: &str,
) -> Result<Actor, FieldError> {
    validate::id("user_id", user_id)?;
    Ok(Actor {
        calling_system: calling_system(metadata)?,
        user_id: user_id.to_owned(),
        on_behalf_of: on_behalf_of.to_owned(),
    })
}

fn result(appended: Appended) -> WriteResult {
    WriteResult {
        event_id: appended.event_ids.last().cloned().unwrap_or_default(),
        log_position: appended.last_position,
        stream_version: appended.stream_version,
        replayed: appended.replayed,
    }
}

/// Runs commands against a log and the view that follows it, deciding each
/// against its stream as `aggregates` folds it.
pub(crate) async fn execute<L: EventLog>(
    log: &L,
    view: &View,
    aggregates: &Aggregates,
    command: Command,
) -> ServiceResult<WriteResult> {
    if let Some(done) = log
        .find_request(&command.request_id, &command.fingerprint)
        .await?
    {
        return Ok(result(done));
    }
    // Nothing is added to a log the service no longer trusts.
    if let Some(why) = view.failure() {
        return Err(ServiceError::Unavailable(format!(
            "projections stopped: {why}"
        )));
    }
    let report = || format!("request id {}", command.request_id);
    let stream = StreamId::of(&command.payload)
        .ok_or_else(|| ServiceError::bug("the event has no stream", report()))?;
    let stream_name = stream.to_string();
    let (event_type, schema_version) = event_type(&command.payload)
        .ok_or_else(|| ServiceError::bug("the event is empty", report()))?;
    let mut attempt = 0;
    loop {
        let folded = aggregates.load(log, &stream_name, &stream).await?;
        let version = folded.version;
        if let Some(expected) = command.expected_version.filter(|v| *v != version) {
            // A retry racing its original sees the original's event, and the
            // version it moved the stream to: answer it with the original's
            // result.
            if let Some(done) = log
                .find_request(&command.request_id, &command.fingerprint)
                .await?
            {
                return Ok(result(done));
            }
            return Err(LogError::VersionConflict {
                stream: stream_name,
                expected,
                actual: version,
            }
            .into());
        }
        if let Err(refused) = folded.decide(&command.payload) {
            // An honest retry racing its original sees the original's event
            // and would be refused: answer it with the original's result.
            return match log
                .find_request(&command.request_id, &command.fingerprint)
                .await?
            {
                Some(done) => Ok(result(done)),
                None => Err(refused.into()),
            };
        }
        let request = AppendRequest {
            stream: stream_name.clone(),
            expected_version: ExpectedVersion::Exact(version),
            request_id: command.request_id.clone(),
            fingerprint: command.fingerprint.clone(),
            events: vec![PendingEvent {
                actor: command.actor.clone(),
                event_type: event_type.to_owned(),
                schema_version,
                payload: command.payload.clone(),
            }],
        };
        let outcome = log.append(request).await;
        // The next write to this stream reads from here on, including the
        // event just appended (or the one that won a conflict).
        aggregates.keep(&stream_name, folded);
        match outcome {
            Err(LogError::VersionConflict { .. })
                if command.expected_version.is_none() && attempt < CONFLICT_RETRIES =>
            {
                attempt += 1;
            }
            outcome => {
                let appended = outcome?;
                if let Err(lag) = view.wait_for(appended.last_position, PROJECTION_WAIT).await {
                    tracing::warn!(%lag, "write is durable but projections have not shown it yet");
                }
                return Ok(result(appended));
            }
        }
    }
}

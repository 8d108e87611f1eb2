//! `verify`: recompute both hash chains (events and decision records) and
//! check every signed checkpoint against a public key, either offline over
//! a stopped service's sled directory or over a running service's replay.
//!
//! Offline is the stronger check: it reads the stored bytes themselves and
//! trusts no running code. Over the replay, the records are re-encoded by
//! this CLI before hashing, so it must be built from the same API version as
//! the service (a field it does not know would be dropped and the chain
//! would not match).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use clap::{ArgGroup, Args};
use icr_log::chain::{decision_bytes, event_bytes};
use icr_log::ed25519_dalek::VerifyingKey;
use icr_log::{Break, KeyMismatch, SledLog, Verification, Verifier};
use icr_proto::pb::{DecisionRecord, ReadEventsRequest, RecordedEvent};
use serde_json::json;
use tonic::transport::Channel;

use crate::audit;
use crate::caller::Caller;
use crate::events;
use crate::output::{self, Output};
use crate::replay::Replayed;

mod refusal;
use refusal::refused;

/// Arguments of `verify`.
#[derive(Args, Debug, Clone)]
#[command(group(ArgGroup::new("source").required(true).args(["data_dir", "server"])))]
pub(crate) struct VerifyArgs {
    /// The public key the checkpoints must be signed with: the
    /// PREFIX.pub.pem written by `consent-cli audit keygen`. Without it the
    /// chains, the indexes and (offline) the record of what was
    /// acknowledged are checked, but no signature is.
    #[arg(long, value_name = "FILE")]
    pub(crate) public_key: Option<PathBuf>,
    /// Verify the sled data directory of a stopped service, or a copy of
    /// one, without connecting to any service. A running service locks its
    /// directory: stop it, or verify a copy.
    #[arg(long, value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// Verify what the service at --endpoint replays: every event, every
    /// decision record and every checkpoint.
    #[arg(long)]
    pub(crate) server: bool,
    /// With --data-dir: record the log's heads in a new record of what was
    /// acknowledged (`acknowledged-heads`), replacing one that is missing
    /// or damaged (the old file is kept as `acknowledged-heads.replaced`),
    /// then verify. A tail the log lost before now can then no longer be
    /// detected: first compare the directory with a backup.
    #[arg(long, requires = "data_dir")]
    pub(crate) replace_acknowledged_record: bool,
}

/// Verifies the sled directory `dir`; needs no service.
pub(crate) fn run_offline(args: &VerifyArgs, dir: &Path, output: Output) -> Result<()> {
    let key = public_key(args)?;
    check_data_dir(dir)?;
    let opened = match args.replace_acknowledged_record {
        true => SledLog::open_replacing_acknowledged_record(dir),
        false => SledLog::open_to_verify(dir),
    };
    let log = opened.map_err(|error| refused(error, dir, output))?;
    if let (true, Some(heads)) = (args.replace_acknowledged_record, log.acknowledged()) {
        eprintln!(
            "warning: the record of what was acknowledged in {} now holds the log's heads \
             (events up to {}, decisions up to {}); the old one, if any, is kept as `{}.replaced`. \
             A tail lost before now can no longer be detected",
            dir.display(),
            heads.events,
            heads.decisions,
            icr_log::ACKNOWLEDGED_HEADS_FILE
        );
    }
    if log.acknowledged().is_none() {
        eprintln!(
            "warning: {} holds no record of what was acknowledged (`{}`; it was written by an \
             earlier version), so a lost tail cannot be detected here; the service keeps one \
             from its next start",
            dir.display(),
            icr_log::ACKNOWLEDGED_HEADS_FILE
        );
    }
    if let (Some(key), Some(path)) = (key.as_ref(), args.public_key.as_deref())
        && let Some(mismatch) = log
            .key_mismatch(key)
            .with_context(|| format!("the checkpoints in {} could not be read", dir.display()))?
    {
        return Err(other_key(&mismatch, path, output));
    }
    let outcome = log.verify(key.as_ref()).with_context(|| {
        format!(
            "the log in {} could not be read to the end; it is damaged: restore it from a \
             copy that verifies",
            dir.display()
        )
    })?;
    drop(log);
    report(outcome, key.as_ref(), output)
}

/// The public key given, if any.
fn public_key(args: &VerifyArgs) -> Result<Option<VerifyingKey>> {
    args.public_key
        .as_deref()
        .map(audit::read_public_key)
        .transpose()
}

/// Refuses a directory that is not a sled database, before sled would
/// create an empty one there (which would verify, vacuously).
fn check_data_dir(dir: &Path) -> Result<()> {
    if !dir.is_dir() {
        bail!(
            "{} is not a directory; give the --data-dir of a stopped consent-service \
             (by default data/consent-service), or a copy of it",
            dir.display()
        );
    }
    if !dir.join("db").is_file() {
        bail!(
            "{} holds no sled database (no `db` file); give the --data-dir of a stopped \
             consent-service, or a copy of it",
            dir.display()
        );
    }
    Ok(())
}

/// Verifies the service at the other end of `channel` over its replay
/// streams: checkpoints first (so every one is within what the streams
/// then deliver), then every event, then every decision record.
pub(crate) async fn run_server(
    channel: Channel,
    caller: &Caller,
    args: &VerifyArgs,
    output: Output,
) -> Result<()> {
    let key = public_key(args)?;
    let key = key.as_ref();
    let checkpoints = audit::list_checkpoints(channel.clone(), caller, 1).await?;
    if let (Some(key), Some(path)) = (key, args.public_key.as_deref())
        && let Some(mismatch) = icr_log::key_mismatch(key, &checkpoints)
    {
        return Err(other_key(&mismatch, path, output));
    }
    let mut verifier = match Verifier::new(key, &checkpoints) {
        Ok(verifier) => verifier,
        Err(broken) => return report(Err(broken), key, output),
    };
    let mut broken: Option<Break> = None;
    let everything = ReadEventsRequest {
        from_position: 1,
        ..ReadEventsRequest::default()
    };
    let check = |event: &RecordedEvent| {
        let bytes = event_bytes(event);
        verifier.event(event.position, event.position, &bytes, &event.chain_hash)
    };
    let read = events::read_events(
        channel.clone(),
        caller,
        everything,
        until_break(&mut broken, check),
    );
    if let Some(found) = first_break(read.await, broken.take())? {
        return report(Err(found), key, output);
    }
    let everything = audit::DecisionFilter::default().request();
    let check = |record: &DecisionRecord| {
        let bytes = decision_bytes(record);
        let position = record.audit_position;
        verifier.decision(position, position, &bytes, &record.chain_hash)
    };
    let read = audit::read_decisions(channel, caller, everything, until_break(&mut broken, check));
    if let Some(found) = first_break(read.await, broken.take())? {
        return report(Err(found), key, output);
    }
    report(verifier.finish(), key, output)
}

/// Hands each item a replay brings to `check`, and stops the replay at the
/// first break, which it keeps in `broken`: verifying reads no further than
/// it must.
fn until_break<'a, T>(
    broken: &'a mut Option<Break>,
    mut check: impl FnMut(&T) -> Result<(), Break> + 'a,
) -> impl FnMut(Replayed<T>) -> Result<()> + 'a {
    move |message| {
        if let Replayed::Item(item) = message
            && let Err(found) = check(&item)
        {
            *broken = Some(found);
            bail!("stopped at the first break");
        }
        Ok(())
    }
}

/// The break a replay stopped at, if any; else the replay's own failure, if
/// it failed.
fn first_break(read: Result<()>, broken: Option<Break>) -> Result<Option<Break>> {
    match broken {
        Some(found) => Ok(Some(found)),
        None => read.map(|()| None),
    }
}

/// The failure (exit status 1) when the checkpoints were signed by another
/// key than `path`'s: said as such, not as tampering.
fn other_key(mismatch: &KeyMismatch, path: &Path, output: Output) -> anyhow::Error {
    if output.is_json() {
        let line = json!({
            "verified": false,
            "key_mismatch": true,
            "sequence": mismatch.sequence,
            "signed_by": mismatch.signed_by,
            "public_key": mismatch.given,
        });
        if let Err(error) = output::json_line(&line) {
            return error.into();
        }
    }
    let path = path.display();
    match &mismatch.signed_by {
        Some(signer) => anyhow!(
            "{path} is not the key that signed the checkpoints: {mismatch}\nhint: verify with \
             the public key whose fingerprint is {signer} (`consent-cli audit keygen` printed \
             it); nothing was checked yet, so this says nothing about whether the log was \
             altered"
        ),
        None => anyhow!(
            "{mismatch}\nhint: verify with the public key of the service that signed the \
             checkpoints; if {path} is that key, the checkpoints were altered: restore the log \
             from a copy that verifies"
        ),
    }
}

/// Prints a verification, or fails (exit status 1) naming the break.
fn report(
    outcome: Result<Verification, Break>,
    key: Option<&VerifyingKey>,
    output: Output,
) -> Result<()> {
    let key_hex = key.map(|key| output::hex(key.as_bytes()));
    let fingerprint = key.map(|key| icr_log::key_fingerprint(key.as_bytes()));
    let verified = match outcome {
        Ok(verified) => verified,
        Err(broken) => {
            if output.is_json() {
                output::json_line(&json!({
                    "verified": false,
                    "chain": broken.chain.name(),
                    "position": broken.position,
                    "reason": broken.reason,
                }))?;
            }
            return Err(anyhow!(
                "{broken}\nhint: the log was altered or damaged after it was written; restore \
                 it from a copy that verifies and find out how it changed"
            ));
        }
    };
    if output.is_json() {
        output::json_line(&json!({
            "verified": true,
            "event_position": verified.events,
            "decision_position": verified.decisions,
            "checkpoints": verified.checkpoints,
            "public_key": key_hex,
            "fingerprint": fingerprint,
            "signatures_checked": key_hex.is_some(),
            "signed_event_position": verified.signed_events,
            "signed_decision_position": verified.signed_decisions,
        }))?;
    } else {
        output::write_text(&format!("{}\n", summary(&verified, fingerprint.as_deref())))?;
    }
    if let Some(unsigned) = unsigned(&verified) {
        if verified.checkpoints == 0 {
            eprintln!(
                "warning: no checkpoint vouches for {unsigned}: either the service has never \
                 signed one (it runs without --signing-key) or the checkpoints were removed; \
                 compare with a list published earlier (`consent-cli audit checkpoints --json`)"
            );
        } else {
            eprintln!(
                "warning: {unsigned} are chained but not yet signed: the next checkpoint \
                 will vouch for them"
            );
        }
    }
    Ok(())
}

/// One sentence: how far both chains verify and what the checkpoints cover,
/// and whether their signatures were checked (`fingerprint` of the key given).
fn summary(verified: &Verification, fingerprint: Option<&str>) -> String {
    let heads = format!(
        "verified up to event position {} and decision position {}",
        verified.events, verified.decisions
    );
    let plural = if verified.checkpoints == 1 { "" } else { "s" };
    let (count, events, decisions) = (
        verified.checkpoints,
        verified.signed_events,
        verified.signed_decisions,
    );
    match (count, fingerprint) {
        (0, Some(_)) => format!("{heads}; no checkpoints: nothing is signed yet"),
        (0, None) => {
            format!("{heads}; no checkpoints, and no signatures were checked (no --public-key)")
        }
        (_, Some(fingerprint)) => format!(
            "{heads}; {count} checkpoint{plural} signed by key {fingerprint}, the last vouching \
             for event {events} and decision {decisions}"
        ),
        (_, None) => format!(
            "{heads}; {count} checkpoint{plural}, the last vouching for event {events} and \
             decision {decisions}; no signatures were checked (no --public-key): give the \
             service's public key to check them"
        ),
    }
}

/// The records past the last checkpoint, if any, in words.
fn unsigned(verified: &Verification) -> Option<String> {
    let mut parts = Vec::new();
    if verified.events > verified.signed_events {
        parts.push(format!(
            "event positions {} to {}",
            verified.signed_events + 1,
            verified.events
        ));
    }
    if verified.decisions > verified.signed_decisions {
        parts.push(format!(
            "decision positions {} to {}",
            verified.signed_decisions + 1,
            verified.decisions
        ));
    }
    (!parts.is_empty()).then(|| parts.join(" and "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_names_heads_and_what_is_signed() {
        let verified = Verification {
            events: 40,
            decisions: 7,
            checkpoints: 2,
            signed_events: 38,
            signed_decisions: 7,
        };
        assert_eq!(
            summary(&verified, Some("ab12")),
            "verified up to event position 40 and decision position 7; 2 checkpoints signed \
             by key ab12, the last vouching for event 38 and decision 7"
        );
        assert_eq!(
            unsigned(&verified).as_deref(),
            Some("event positions 39 to 40")
        );
        let signed = Verification {
            signed_events: 40,
            ..verified
        };
        assert_eq!(unsigned(&signed), None);
    }

    #[test]
    fn a_directory_without_a_database_is_refused_before_sled_creates_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let error = check_data_dir(dir.path()).expect_err("empty directory");
        assert!(error.to_string().contains("no sled database"), "{error}");
        let missing = check_data_dir(&dir.path().join("absent")).expect_err("missing");
        assert!(missing.to_string().contains("not a directory"), "{missing}");
        assert!(
            std::fs::read_dir(dir.path())
                .expect("read")
                .next()
                .is_none()
        );
    }
}

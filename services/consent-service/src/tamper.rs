//! Tamper evidence at run time: the chains are verified before anything is
//! served, and checkpoints are signed while the service runs.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use icr_log::ed25519_dalek::SigningKey;
use icr_log::ed25519_dalek::pkcs8::DecodePrivateKey;
use icr_log::{KeyMismatch, SledLog, TamperEvidence, Verification};

use crate::view::View;

/// Reads an ed25519 private key from a PKCS#8 PEM file (as written by
/// `openssl genpkey -algorithm ed25519` or `consent-cli audit keygen`).
pub fn load_signing_key(path: &Path) -> anyhow::Result<SigningKey> {
    let pem = std::fs::read_to_string(path)
        .with_context(|| format!("reading the signing key {}", path.display()))?;
    SigningKey::from_pkcs8_pem(&pem).map_err(|e| {
        anyhow::anyhow!(
            "{} is not an ed25519 PKCS#8 PEM private key: {e}",
            path.display()
        )
    })
}

/// Recomputes both hash chains and checks every checkpoint; refuses to go
/// on from a log that does not verify, saying where it breaks, or whose
/// checkpoints another key signed, naming both keys.
/// Ends early, with an error, once `stop` is set.
pub(crate) async fn verify_at_start(
    log: &SledLog,
    key: Option<&SigningKey>,
    data_dir: &Path,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    let verifying = key.map(SigningKey::verifying_key);
    let log = log.clone();
    let started = std::time::Instant::now();
    let outcome = tokio::task::spawn_blocking(move || {
        if let Some(mismatch) = verifying
            .map(|k| log.key_mismatch(&k))
            .transpose()?
            .flatten()
        {
            return Ok(Err(Refusal::OtherKey(mismatch)));
        }
        let verified = log.verify_until_stopped(verifying.as_ref(), &stop)?;
        Ok::<_, icr_log::LogError>(verified.map_err(Refusal::Broken))
    })
    .await
    .context("verification task failed")?
    .context("reading the log to verify it")?;
    match outcome {
        Ok(verified) => {
            let elapsed_ms = started.elapsed().as_millis();
            tracing::info!(%verified, elapsed_ms, "hash chains verified");
            warn_of_unsigned(&verified, key.is_some());
            Ok(())
        }
        Err(Refusal::Broken(broken)) => bail!(
            "refusing to serve from {}: {broken}. The log was altered or damaged; restore it \
             from a verified copy (consent-cli verify shows where copies break)",
            data_dir.display()
        ),
        Err(Refusal::OtherKey(mismatch)) => bail!("{}", other_key(data_dir, &mismatch)),
    }
}

/// Why the log at start cannot be served.
enum Refusal {
    /// It does not verify.
    Broken(icr_log::Break),
    /// Its checkpoints were signed by another key than the signing key.
    OtherKey(KeyMismatch),
}

/// The refusal to start with a signing key other than the one that signed
/// the checkpoints: a mistake in the configuration, not tampering.
fn other_key(data_dir: &Path, mismatch: &KeyMismatch) -> String {
    let dir = data_dir.display();
    match &mismatch.signed_by {
        Some(signer) => format!(
            "refusing to serve from {dir}: the signing key is not the key that signed its \
             checkpoints: {mismatch}. Start the service with the private key whose public key \
             has fingerprint {signer} (`consent-cli audit keygen` printed it); nothing was \
             checked yet, so this says nothing about whether the log was altered"
        ),
        None => format!(
            "refusing to serve from {dir}: {mismatch}. Start the service with the private key \
             that signed the checkpoints; if it is this one, the log was altered: restore it \
             from a verified copy"
        ),
    }
}

/// Says at start which key signs checkpoints, or warns once that none
/// will be signed (whether or not an earlier run left checkpoints).
pub(crate) fn announce_signing(key: Option<&SigningKey>) {
    match key {
        Some(key) => tracing::info!(
            key = icr_log::key_fingerprint(key.verifying_key().as_bytes()),
            "signing checkpoints; verify them with the public key of this fingerprint"
        ),
        None => tracing::warn!(
            "no signing key: this service signs no checkpoints, so nothing vouches for what it \
             writes. The hash chains still catch accidental damage, but whoever can write the \
             data directory can rewrite its history undetected; make a key with `consent-cli \
             audit keygen` and start with --signing-key"
        ),
    }
}

/// Warns, once, of records that no checkpoint vouches for. Without a
/// signing key and without checkpoints there is nothing to say beyond the
/// start-up warning that nothing is signed.
fn warn_of_unsigned(verified: &Verification, signing: bool) {
    let unsigned_events = verified.events.saturating_sub(verified.signed_events);
    let unsigned_decisions = verified.decisions.saturating_sub(verified.signed_decisions);
    let unsigned = unsigned_events + unsigned_decisions;
    if unsigned == 0 || (!signing && verified.checkpoints == 0) {
        return;
    }
    let tail = unsigned_tail(verified);
    let (are, them) = if unsigned == 1 {
        ("is", "it")
    } else {
        ("are", "them")
    };
    let what = match (signing, verified.checkpoints) {
        (true, 0) => format!(
            "no checkpoint vouches for {tail}: none was signed before; the next checkpoint will \
             vouch for {them} as {they} stand",
            they = if unsigned == 1 { "it" } else { "they" }
        ),
        (true, _) => format!(
            "{tail} after the last checkpoint {are} chained but unsigned: expected after a \
             crash; otherwise compare with checkpoints kept off this host before trusting \
             {them} (the next checkpoint will vouch for {them})"
        ),
        (false, _) => format!(
            "{tail} after the last checkpoint {are} chained but unsigned, and without a signing \
             key no checkpoint will vouch for {them}"
        ),
    };
    tracing::warn!(unsigned_events, unsigned_decisions, "{what}");
}

/// The records past the last checkpoint, counted and by position: "22
/// events (positions 9 to 30) and 3 decisions (positions 1 to 3)".
fn unsigned_tail(verified: &Verification) -> String {
    let part = |signed: u64, head: u64, noun: &str| match head.saturating_sub(signed) {
        0 => None,
        1 => Some(format!("1 {noun} (position {head})")),
        count => Some(format!(
            "{count} {noun}s (positions {} to {head})",
            signed + 1
        )),
    };
    [
        part(verified.signed_events, verified.events, "event"),
        part(verified.signed_decisions, verified.decisions, "decision"),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" and ")
}

/// Verifies the whole log while the service serves (it started from a
/// snapshot). A break fails `view`, stopping every decision and write;
/// success sets `verified`. Ends early, concluding nothing, once `stop` is
/// set.
pub(crate) async fn verify_beside_serving(
    log: SledLog,
    key: Option<SigningKey>,
    data_dir: PathBuf,
    view: Arc<View>,
    stop: Arc<AtomicBool>,
    verified: Arc<AtomicBool>,
) {
    match verify_at_start(&log, key.as_ref(), &data_dir, stop.clone()).await {
        Err(_) if stop.load(Ordering::Relaxed) => {
            tracing::info!("log verification stopped for shutdown");
        }
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "decisions and writes stopped");
            view.fail(format!("{error:#}"));
        }
        Ok(()) => verified.store(true, Ordering::Relaxed),
    }
}

/// Signs a checkpoint now and then every `every` while the log grows, at
/// each tick where `may_sign` allows: the key vouches only for a log that
/// was verified and has not been found broken since.
pub(crate) async fn sign_periodically<L: TamperEvidence>(
    log: L,
    key: SigningKey,
    every: Duration,
    may_sign: impl Fn() -> bool,
) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if may_sign() {
            sign(&log, &key).await;
        }
    }
}

/// Signs one checkpoint, logging the outcome.
pub(crate) async fn sign<L: TamperEvidence>(log: &L, key: &SigningKey) {
    match log.checkpoint(key).await {
        Ok(Some(c)) => tracing::info!(
            sequence = c.sequence,
            event_position = c.event_position,
            audit_position = c.audit_position,
            "checkpoint signed"
        ),
        Ok(None) => {}
        Err(error) => tracing::error!(%error, "could not sign a checkpoint"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unsigned_tail_is_counted_not_named_by_the_signed_heads() {
        let verified = Verification {
            events: 30,
            decisions: 3,
            checkpoints: 1,
            signed_events: 8,
            signed_decisions: 0,
        };
        assert_eq!(
            unsigned_tail(&verified),
            "22 events (positions 9 to 30) and 3 decisions (positions 1 to 3)"
        );
        let one = Verification {
            signed_decisions: 3,
            events: 9,
            ..verified
        };
        assert_eq!(unsigned_tail(&one), "1 event (position 9)");
    }
}

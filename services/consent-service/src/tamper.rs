//! Tamper evidence at run time: the chains are verified before anything is
//! served, and checkpoints are signed while the service runs.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use icr_log::ed25519_dalek::SigningKey;
use icr_log::ed25519_dalek::pkcs8::DecodePrivateKey;
use icr_log::{SledLog, TamperEvidence};

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
/// on from a log that does not verify, saying where it breaks.
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
    let outcome =
        tokio::task::spawn_blocking(move || log.verify_until_stopped(verifying.as_ref(), &stop))
            .await
            .context("verification task failed")?
            .context("reading the log to verify it")?;
    match outcome {
        Ok(verified) => {
            let elapsed_ms = started.elapsed().as_millis();
            tracing::info!(%verified, elapsed_ms, "hash chains verified");
            let unsigned = verified.events > verified.signed_events
                || verified.decisions > verified.signed_decisions;
            if unsigned {
                tracing::warn!(
                    events_after = verified.signed_events,
                    decisions_after = verified.signed_decisions,
                    "records after the last checkpoint are chained but unsigned: expected after \
                     a crash; otherwise compare with checkpoints kept off this host before \
                     trusting them (the next checkpoint will vouch for them)"
                );
            }
            Ok(())
        }
        Err(broken) => bail!(
            "refusing to serve from {}: {broken}. The log was altered or damaged; restore it \
             from a verified copy (consent-cli verify shows where copies break)",
            data_dir.display()
        ),
    }
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

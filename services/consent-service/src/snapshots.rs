//! Projection snapshots on disk: written in the background as the log
//! grows, read at start so only the tail of the log is replayed.
//!
//! Files are `snapshots/projections-<position>.snap` in the data directory,
//! written to a temporary name, synced, then renamed, so a crash leaves
//! either the whole file or none. The newest [`KEEP`] are kept. A snapshot
//! of another format (another build's: the line names both formats), or
//! one that is damaged, unsigned when a key is configured, signed by another
//! key, or not taken from this log is skipped with a warning; with none
//! left the log is replayed from the start, which is slower but the same.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use icr_log::ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use icr_log::{EventLog, SledLog};
use icr_projections::{Projections, Snapshot, SnapshotError};

use crate::view::View;

/// Snapshots kept on disk: the newest and the one before, in case the
/// newest cannot be read.
const KEEP: usize = 2;

/// How often the writer looks at how far the log has grown.
const LOOK_EVERY: Duration = Duration::from_secs(1);

/// Where snapshots live and how they are signed.
#[derive(Debug, Clone)]
pub(crate) struct Snapshots {
    dir: PathBuf,
    key: Option<SigningKey>,
}

fn file_name(position: u64) -> String {
    format!("projections-{position:020}.snap")
}

fn position_of(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    name.strip_prefix("projections-")?
        .strip_suffix(".snap")?
        .parse()
        .ok()
}

/// A snapshot read from a file, not yet checked against the log.
pub(crate) struct Candidate {
    path: PathBuf,
    projections: Projections,
    snapshot: Snapshot,
    elapsed: Duration,
}

/// Whether `snapshot` was taken from `log`: its position is in the log and
/// the chain hash there is the one it recorded.
async fn belongs<L: EventLog>(log: &L, snapshot: &Snapshot) -> anyhow::Result<()> {
    let head = *log.subscribe().borrow();
    anyhow::ensure!(
        snapshot.position <= head,
        "it is ahead of the log (position {}, head {head})",
        snapshot.position
    );
    let event = log
        .read_from(snapshot.position, 1)
        .await
        .context("reading the event it was taken at")?;
    let same = event
        .first()
        .is_some_and(|e| e.position == snapshot.position && e.chain_hash == snapshot.chain_hash);
    anyhow::ensure!(
        same,
        "it was not taken from this log (the chain hash at position {} differs)",
        snapshot.position
    );
    Ok(())
}

/// Logs why the snapshot at `path` is skipped and what happens instead:
/// an older snapshot is tried, or, after the `last`, the log is folded from
/// the start.
fn skipped(path: &Path, error: &anyhow::Error, last: bool) {
    let path = path.display();
    let instead = if last {
        "the log is folded from the start (slower, never different)"
    } else {
        "the next older snapshot is tried"
    };
    match error.downcast_ref::<SnapshotError>() {
        Some(&SnapshotError::Format { found, reads }) => tracing::warn!(
            %path,
            found,
            reads,
            "snapshot {path} is format v{found}, this build reads v{reads}: skipped; {instead}"
        ),
        _ => tracing::warn!(%path, error = format!("{error:#}"), "snapshot skipped; {instead}"),
    }
}

/// Accepts a snapshot's signature: required and valid when there is a key.
fn check_signature(
    key: Option<&VerifyingKey>,
    snapshot: &Snapshot,
    signature: &[u8],
) -> Result<(), String> {
    let Some(key) = key else {
        return Ok(());
    };
    let signature = Signature::from_slice(signature)
        .map_err(|_| "not signed, but the service has a signing key".to_owned())?;
    key.verify(&snapshot.digest, &signature)
        .map_err(|_| "signed by another key".to_owned())
}

impl Snapshots {
    /// Snapshots in `data_dir/snapshots`, signed with `key` when given.
    pub(crate) fn new(data_dir: &Path, key: Option<SigningKey>) -> Self {
        Self {
            dir: data_dir.join("snapshots"),
            key,
        }
    }

    /// Snapshot files, newest first.
    fn files(&self) -> Vec<(u64, PathBuf)> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut files: Vec<_> = entries
            .flatten()
            .map(|e| e.path())
            .filter_map(|path| Some((position_of(&path)?, path)))
            .collect();
        files.sort_unstable_by_key(|(position, _)| std::cmp::Reverse(*position));
        files
    }

    /// Reads the newest snapshot that decodes and, when the service has a
    /// key, is signed by it. Blocking; needs no log, so it runs while the
    /// log opens.
    pub(crate) fn read_newest(&self) -> Option<Candidate> {
        self.first_readable(self.files())
    }

    /// The first of `files` that decodes (and is signed as it must be).
    fn first_readable(&self, files: Vec<(u64, PathBuf)>) -> Option<Candidate> {
        let count = files.len();
        files
            .into_iter()
            .enumerate()
            .find_map(|(index, (_, path))| {
                let started = Instant::now();
                match self.decode(&path) {
                    Ok((projections, snapshot)) => Some(Candidate {
                        path,
                        projections,
                        snapshot,
                        elapsed: started.elapsed(),
                    }),
                    Err(error) => {
                        let last = index + 1 == count;
                        skipped(&path, &error, last);
                        None
                    }
                }
            })
    }

    /// The projections to start from: `newest` (from [`Self::read_newest`])
    /// if it belongs to `log`, else the newest older snapshot that does.
    /// The events after it are checked against the chain first, from the
    /// hash the snapshot vouches for: a break there refuses the start, as
    /// a full verification would.
    pub(crate) async fn load(
        &self,
        log: &SledLog,
        newest: Option<Candidate>,
    ) -> anyhow::Result<Option<Projections>> {
        let Some(mut candidate) = newest else {
            return Ok(None);
        };
        loop {
            let position = candidate.snapshot.position;
            let path = candidate.path.display().to_string();
            let error = match belongs(log, &candidate.snapshot).await {
                Ok(()) => {
                    let (tail, hash) = (log.clone(), candidate.snapshot.chain_hash.clone());
                    let checked = tokio::task::spawn_blocking(move || {
                        tail.verify_events_after(position, &hash)
                    })
                    .await
                    .context("the task checking the tail failed")?
                    .context("reading the log after the snapshot")?;
                    if let Err(broken) = checked {
                        anyhow::bail!(
                            "refusing to serve: {broken}. The log was altered or damaged after \
                             snapshot {path}; restore it from a verified copy"
                        );
                    }
                    tracing::info!(
                        path,
                        position,
                        patients = candidate.projections.patient_count(),
                        elapsed_ms = candidate.elapsed.as_millis(),
                        "projections loaded from a snapshot; replaying the log after it"
                    );
                    return Ok(Some(candidate.projections));
                }
                Err(error) => error,
            };
            // Rare: the newest snapshot is of another log, or ahead of this one.
            let older: Vec<_> = self
                .files()
                .into_iter()
                .skip_while(|(_, path)| *path != candidate.path)
                .skip(1)
                .collect();
            skipped(&candidate.path, &error, older.is_empty());
            let this = self.clone();
            let older = tokio::task::spawn_blocking(move || this.first_readable(older)).await;
            match older.context("the snapshot reader failed")? {
                Some(older) => candidate = older,
                None => return Ok(None),
            }
        }
    }

    /// Reads and checks one snapshot file, signature included.
    fn decode(&self, path: &Path) -> anyhow::Result<(Projections, Snapshot)> {
        let key = self.key.as_ref().map(SigningKey::verifying_key);
        let bytes = std::fs::read(path).context("reading it")?;
        Projections::decode_snapshot(&bytes, |s, signature| {
            check_signature(key.as_ref(), s, signature)
        })
        .map_err(anyhow::Error::from)
    }

    /// Writes a snapshot whenever the projections have folded `every` more
    /// events than the last one holds, starting from `last` (the position
    /// of the snapshot the service started from, or 0). Runs until aborted.
    pub(crate) async fn keep_writing<L: EventLog>(
        self,
        view: Arc<View>,
        log: L,
        every: u64,
        mut last: u64,
    ) {
        let mut looks = tokio::time::interval(LOOK_EVERY);
        looks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            looks.tick().await;
            let Some(at) = view.position() else {
                return;
            };
            if at < last.saturating_add(every) {
                continue;
            }
            match self.write(&view, &log).await {
                Ok(position) => last = position,
                // Try again after another `every` events rather than at
                // every look, e.g. while the disk is full.
                Err(error) => {
                    tracing::error!(error = format!("{error:#}"), "could not write a snapshot");
                    last = at;
                }
            }
        }
    }

    /// Writes one snapshot of the view as it stands; returns its position.
    pub(crate) async fn write<L: EventLog>(&self, view: &View, log: &L) -> anyhow::Result<u64> {
        let started = Instant::now();
        // A clone shares every shard: a reference count each, under the lock.
        let projections = view.read(|p, _| p.clone());
        let cloned_ms = started.elapsed().as_millis();
        let position = projections.position();
        let chain_hash = log
            .read_from(position, 1)
            .await?
            .into_iter()
            .find(|e| e.position == position)
            .map(|e| e.chain_hash)
            .with_context(|| format!("position {position} is not in the log"))?;
        let this = self.clone();
        let bytes = tokio::task::spawn_blocking(move || this.store(&projections, &chain_hash))
            .await
            .context("the snapshot writer failed")??;
        // The clone holds the read lock, and the follower (so writes and, behind
        // its wait, new reads) waits for it: logged to see that cost.
        tracing::info!(
            position,
            bytes,
            cloned_ms,
            elapsed_ms = started.elapsed().as_millis(),
            "snapshot written"
        );
        Ok(position)
    }

    fn store(&self, projections: &Projections, chain_hash: &[u8]) -> anyhow::Result<usize> {
        let bytes = projections.encode_snapshot(chain_hash, |digest| match &self.key {
            Some(key) => key.sign(digest).to_bytes().to_vec(),
            None => Vec::new(),
        });
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        let path = self.dir.join(file_name(projections.position()));
        let temporary = path.with_extension("snap.partial");
        let written = std::fs::write(&temporary, &bytes)
            .and_then(|()| std::fs::File::open(&temporary)?.sync_all())
            .and_then(|()| std::fs::rename(&temporary, &path))
            .and_then(|()| std::fs::File::open(&self.dir)?.sync_all());
        if let Err(error) = written {
            // A full disk must not stay full of a half-written snapshot: the
            // log shares it.
            let _ = std::fs::remove_file(&temporary);
            return Err(error).with_context(|| format!("writing {}", path.display()));
        }
        let partial = |p: &Path| p.extension().is_some_and(|e| e == "partial") && p != temporary;
        let leftovers = std::fs::read_dir(&self.dir)?.flatten().map(|e| e.path());
        let old = self.files().into_iter().skip(KEEP).map(|(_, path)| path);
        for old in leftovers.filter(|p| partial(p)).chain(old) {
            if let Err(error) = std::fs::remove_file(&old) {
                tracing::warn!(path = %old.display(), %error, "could not remove an old snapshot");
            }
        }
        Ok(bytes.len())
    }
}

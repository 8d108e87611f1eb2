//! The live view: projections and the decision engine built from their
//! policy, kept at one log position together, and the task that folds new
//! durable events into them.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use icr_decision::Engine;
use icr_log::{EventLog, LogError};
use icr_projections::{PolicyState, Projections};
use tokio::sync::watch;

use crate::faults::Faults;
use crate::policy_files::PolicyFiles;
use crate::status::{ServiceError, ServiceResult};

/// How many events the follower folds under one write lock.
const BATCH: usize = 512;

/// First and longest wait before the follower reads again after the
/// storage failed a read.
const READ_RETRY: (Duration, Duration) = (Duration::from_millis(10), Duration::from_secs(1));

/// Why a batch was not folded.
enum FoldError {
    /// The storage failed the read; the state is as it was and a later read
    /// may succeed.
    Read(String),
    /// The log is damaged or cannot be folded: nothing more is decided.
    Final(String),
}

/// Projections and the engine for the same position. Readers see both or
/// neither of a policy change.
struct State {
    projections: Projections,
    /// `None` until the first build, or when the current policy could not be
    /// built: every decision is then a deny.
    engine: Option<Arc<Engine>>,
}

/// Where the follower stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Progress {
    /// Folded up to this position.
    At(u64),
    /// Stopped: the log could not be read or folded. Nothing is decided.
    Failed(String),
}

/// Marks the view failed when dropped: the follower holds one for its life.
struct StopGuard<'a>(&'a watch::Sender<Progress>);

impl Drop for StopGuard<'_> {
    fn drop(&mut self) {
        self.0.send_modify(|p| {
            if let Progress::At(at) = p {
                *p = Progress::Failed(format!("projection follower stopped at position {at}"));
            }
        });
    }
}

/// Shared, read-mostly view of current state.
pub(crate) struct View {
    state: RwLock<State>,
    progress: watch::Sender<Progress>,
    /// Injected failures (only with the `fault-injection` feature): a
    /// paused follower, panicking reads.
    faults: Faults,
}

impl View {
    /// A view that starts from `projections` (read from a snapshot) and
    /// follows the log from their position on. Progress reads 0 until the
    /// follower's first batch has built the engine, so nothing waits its way
    /// to a decision before there is an engine to make it.
    pub(crate) fn starting_from(projections: Projections, faults: Faults) -> Arc<Self> {
        let (progress, _) = watch::channel(Progress::At(0));
        let state = State {
            projections,
            engine: None,
        };
        Arc::new(Self {
            state: RwLock::new(state),
            progress,
            faults,
        })
    }

    /// Stops every decision and write for good: something found the state
    /// cannot be trusted (e.g. the log failed verification).
    pub(crate) fn fail(&self, why: String) {
        self.progress.send_replace(Progress::Failed(why));
    }

    /// Resolves once the projections have failed (for good).
    pub(crate) async fn failed(&self) {
        let mut progress = self.progress.subscribe();
        let _ = progress
            .wait_for(|p| matches!(p, Progress::Failed(_)))
            .await;
    }

    /// Why the view failed, once it has: nothing is decided or written then.
    pub(crate) fn failure(&self) -> Option<String> {
        match &*self.progress.borrow() {
            Progress::Failed(why) => Some(why.clone()),
            Progress::At(_) => None,
        }
    }

    /// Where the follower stands: `None` once it failed.
    pub(crate) fn position(&self) -> Option<u64> {
        match *self.progress.borrow() {
            Progress::At(at) => Some(at),
            Progress::Failed(_) => None,
        }
    }

    /// Runs `read` on the projections and engine of one position. The lock
    /// is never held across an await.
    pub(crate) fn read<R>(&self, read: impl FnOnce(&Projections, Option<&Engine>) -> R) -> R {
        self.faults.view_read();
        self.read_state(read)
    }

    /// [`View::read`] for the follower, which no injected fault stops.
    fn read_state<R>(&self, read: impl FnOnce(&Projections, Option<&Engine>) -> R) -> R {
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        read(&state.projections, state.engine.as_deref())
    }

    /// Waits until the projections have applied `position`, for at most
    /// `timeout`. Errs when they lag (never a decision on stale state) or failed.
    pub(crate) async fn wait_for(&self, position: u64, timeout: Duration) -> ServiceResult<()> {
        let mut progress = self.progress.subscribe();
        let reached = |p: &Progress| !matches!(p, Progress::At(at) if *at < position);
        // The watch `Ref` that `wait_for` returns holds a read lock on the
        // channel: drop it before borrowing again, or a send waiting for
        // the write lock in between deadlocks both.
        let timed_out = tokio::time::timeout(timeout, progress.wait_for(reached))
            .await
            .map(drop)
            .is_err();
        let progress = self.progress.borrow().clone();
        match progress {
            Progress::Failed(why) => Err(ServiceError::Unavailable(format!(
                "projections stopped: {why}"
            ))),
            Progress::At(at) if at < position || timed_out => Err(ServiceError::Lagging {
                at,
                wanted: position,
            }),
            Progress::At(_) => Ok(()),
        }
    }

    /// Folds durable events as they arrive, until the log fails. A policy
    /// change rebuilds the engine off the lock, then swaps it in with the
    /// events that caused it.
    pub(crate) async fn follow<L: EventLog>(self: Arc<Self>, log: L, files: PolicyFiles) {
        // However the follower ends (log error, panic, abort at shutdown),
        // decisions must stop with it rather than go on from frozen state.
        let _stopped = StopGuard(&self.progress);
        let mut head = log.subscribe();
        let mut engine_built = false;
        let mut retry = READ_RETRY.0;
        loop {
            let at = self.read_state(|p, _| p.position());
            let durable = *head.borrow_and_update();
            if at >= durable && engine_built {
                if head.changed().await.is_err() {
                    return;
                }
                continue;
            }
            self.faults.projections_may_fold().await;
            match self.fold_batch(&log, &files, at, !engine_built).await {
                Ok(()) => {
                    engine_built = true;
                    retry = READ_RETRY.0;
                }
                // Decisions wait for the projections meanwhile and answer
                // Unavailable: never from the state before the failed read.
                Err(FoldError::Read(why)) => {
                    tracing::warn!(%why, ?retry, "reading the log failed; reading again");
                    tokio::time::sleep(retry).await;
                    retry = (retry * 2).min(READ_RETRY.1);
                }
                Err(FoldError::Final(why)) => {
                    tracing::error!(%why, "projections stopped; decisions are unavailable");
                    self.fail(why);
                    return;
                }
            }
        }
    }

    async fn fold_batch<L: EventLog>(
        &self,
        log: &L,
        files: &PolicyFiles,
        at: u64,
        force_build: bool,
    ) -> Result<(), FoldError> {
        // Only an I/O error may pass; sled's corruption and bug reports,
        // like our own, stop the projections for good.
        let events = log.read_from(at + 1, BATCH).await.map_err(|e| match e {
            LogError::Storage(icr_log::sled::Error::Io(_)) => FoldError::Read(e.to_string()),
            e => FoldError::Final(e.to_string()),
        })?;
        let policy_changes: Vec<_> = events
            .iter()
            .filter_map(|e| Some((e.position, e.payload.as_ref()?)))
            .filter(|(_, p)| PolicyState::is_policy_event(p))
            .collect();
        let engine = if force_build || !policy_changes.is_empty() {
            let mut policy = self.read_state(|p, _| p.policy().clone());
            policy_changes
                .into_iter()
                .for_each(|(position, p)| policy.apply(position, p));
            match Engine::build(&files.model, &files.rules, &policy.policy_set()).await {
                Ok(engine) => Some(Some(Arc::new(engine))),
                Err(error) => {
                    tracing::error!(%error, "policy cannot be built into an engine; denying every request");
                    Some(None)
                }
            }
        } else {
            None
        };
        // Check the whole batch before applying any of it, so a bad batch
        // leaves the state as it was.
        let contiguous = events.iter().zip(at + 1..).all(|(e, p)| e.position == p);
        if !contiguous {
            return Err(FoldError::Final(format!(
                "events after position {at} are not contiguous: the log is damaged"
            )));
        }
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        for event in &events {
            let applied = state.projections.apply(event);
            applied.map_err(|e| FoldError::Final(e.to_string()))?;
        }
        if let Some(engine) = engine {
            state.engine = engine;
        }
        let position = state.projections.position();
        drop(state);
        // A failure is final: folding on does not make the state trusted.
        self.progress.send_if_modified(|p| match p {
            Progress::At(at) => {
                *at = position;
                true
            }
            Progress::Failed(_) => false,
        });
        Ok(())
    }
}

//! Flat combining: concurrent writers hand their work to whichever of them
//! holds the writer state, which applies everything queued as one sled
//! batch.
//!
//! A sled batch costs a lock on the whole tree and a manifest in its log on
//! top of its inserts; measured with 64 concurrent writers, one batch per
//! decision record reached about a third of the records per second that the
//! same records reached in batches of 64. No thread or task is added: a
//! writer that finds the state free applies the queue, the others wait for
//! their result. A writer applies at most [`ROUNDS`] batches before it hands
//! the queue to a waiting writer, so no one caller serves everyone else for
//! long. A work item is applied once, or not at all if it was queued when
//! the service panicked while applying (its caller then gets `None`).
//!
//! A caller that stops waiting (its future is dropped) does not withdraw its
//! work: it is applied all the same, and a retry with the same request id
//! finds it.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};

use tokio::sync::{Notify, oneshot};

/// Batches one writer applies before handing the queue on.
pub(crate) const ROUNDS: usize = 4;

/// Queued work with the channel its result goes back on.
type Queue<W, R> = Vec<(W, oneshot::Sender<R>)>;

/// Writer state `S` and the queue of work `W` waiting for it; applying a
/// piece of work gives an `R`.
pub(crate) struct Combining<S, W, R> {
    /// `None` once applying panicked: the state may no longer match what
    /// was stored, so nothing more is applied until the log is reopened.
    state: Mutex<Option<S>>,
    queue: Mutex<Queue<W, R>>,
    /// Wakes a waiting writer to take over a queue left behind.
    handover: Notify,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<S, W, R> Combining<S, W, R> {
    pub(crate) fn new(state: S) -> Self {
        Self {
            state: Mutex::new(Some(state)),
            queue: Mutex::new(Vec::new()),
            handover: Notify::new(),
        }
    }

    /// Queues `work` and returns its result once it has been applied, by
    /// this caller or by another one holding the state. `apply` gets the
    /// state and every piece of work queued, in order, and returns one
    /// result for each. `None` when applying panicked, for this work or
    /// before it.
    pub(crate) async fn submit(
        &self,
        work: W,
        apply: impl Fn(&mut S, Vec<W>) -> Vec<R>,
    ) -> Option<R> {
        let (sender, mut receiver) = oneshot::channel();
        lock(&self.queue).push((work, sender));
        loop {
            self.combine(&apply);
            tokio::select! {
                result = &mut receiver => {
                    // Pass on a handover this caller may have taken.
                    if !lock(&self.queue).is_empty() {
                        self.handover.notify_one();
                    }
                    return result.ok();
                }
                () = self.handover.notified() => {}
            }
        }
    }

    /// Applies the queue if the state is free, for at most [`ROUNDS`]
    /// batches. Work queued after the last look, by a caller who then found
    /// the state taken, is seen by the look after the state is released.
    fn combine(&self, apply: &impl Fn(&mut S, Vec<W>) -> Vec<R>) {
        let mut rounds = 0;
        loop {
            let mut guard = match self.state.try_lock() {
                Ok(guard) => guard,
                Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
                Err(TryLockError::WouldBlock) => return,
            };
            loop {
                let queued = std::mem::take(&mut *lock(&self.queue));
                if queued.is_empty() {
                    break;
                }
                let Some(state) = guard.as_mut() else {
                    // Applying panicked before: drop the senders, so every
                    // caller gets `None`.
                    continue;
                };
                let (work, senders): (Vec<_>, Vec<_>) = queued.into_iter().unzip();
                match catch_unwind(AssertUnwindSafe(|| apply(state, work))) {
                    Ok(results) => {
                        for (sender, result) in senders.into_iter().zip(results) {
                            // The caller may have stopped waiting.
                            let _ = sender.send(result);
                        }
                    }
                    Err(_) => *guard = None,
                }
                rounds += 1;
                if rounds == ROUNDS {
                    drop(guard);
                    if !lock(&self.queue).is_empty() {
                        self.handover.notify_one();
                    }
                    return;
                }
            }
            drop(guard);
            if lock(&self.queue).is_empty() {
                return;
            }
        }
    }

    /// The writer state, if applying never panicked.
    #[cfg(test)]
    fn state(&self) -> MutexGuard<'_, Option<S>> {
        lock(&self.state)
    }
}

#[cfg(test)]
#[path = "combine_tests.rs"]
mod tests;

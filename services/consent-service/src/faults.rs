//! Fault injection for tests: a switchboard the tests flip while the real
//! server runs, to show that every failure is a deny or an error — never an
//! allow — that the service keeps serving what it still can, and that it
//! recovers when the fault clears.
//!
//! The switches exist only with the `fault-injection` feature (off by
//! default; the integration tests turn it on). Without it [`Faults`] is an
//! empty value, every hook is a constant that the compiler removes, and the
//! storage the service uses is the log itself.
//!
//! | switch | where it bites |
//! |---|---|
//! | `fail_appends` | event appends: every write RPC |
//! | `fail_decision_records` | the decision audit: every `Authorize` |
//! | `fail_reads` | reads of the log and the audit: replays, reports, writes' stream loads, the projection follower |
//! | `pause_projections` | the follower stops folding: the view lags the log |
//! | `panic_view_reads` | every read of the current state panics: a decision is a recorded deny |
//! | `hold_decisions` | recording decisions waits, after they are evaluated, until released |
//!
//! Every switch bites in storage or in the view, never in the decision code,
//! which calls the engine directly. A casbin error needs no switch: a model
//! whose matcher casbin cannot evaluate for some requests does it (see the
//! integration tests).

#[cfg(feature = "fault-injection")]
mod storage;

#[cfg(feature = "fault-injection")]
use std::sync::Arc;
#[cfg(feature = "fault-injection")]
use std::sync::atomic::{AtomicBool, Ordering};

/// The switchboard: cheap to clone, every clone the same switches.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    #[cfg(feature = "fault-injection")]
    switches: Arc<Switches>,
}

#[cfg(feature = "fault-injection")]
#[derive(Debug, Default)]
struct Switches {
    appends: AtomicBool,
    decision_records: AtomicBool,
    reads: AtomicBool,
    /// `true` while the follower is paused.
    paused: tokio::sync::watch::Sender<bool>,
    view_reads_panic: AtomicBool,
    /// `true` while decisions are held.
    held: tokio::sync::watch::Sender<bool>,
}

#[cfg(feature = "fault-injection")]
impl Faults {
    /// Event appends fail with a storage error while `on`.
    pub fn fail_appends(&self, on: bool) {
        self.switches.appends.store(on, Ordering::SeqCst);
    }

    /// Recording decisions in the audit fails with a storage error while `on`.
    pub fn fail_decision_records(&self, on: bool) {
        self.switches.decision_records.store(on, Ordering::SeqCst);
    }

    /// Every read of the log, the audit or the checkpoints fails with a
    /// storage error while `on`.
    pub fn fail_reads(&self, on: bool) {
        self.switches.reads.store(on, Ordering::SeqCst);
    }

    /// The projection follower folds nothing while `on`; it goes on from
    /// where it stopped when switched off.
    pub fn pause_projections(&self, on: bool) {
        self.switches.paused.send_replace(on);
    }

    /// Every read of the current state (projections and engine) panics
    /// while `on`, as a bug in computing a decision would.
    pub fn panic_view_reads(&self, on: bool) {
        self.switches.view_reads_panic.store(on, Ordering::SeqCst);
    }

    /// Recording decisions waits while `on`, after they are evaluated: a
    /// delay as long as the test wants, so a client's deadline expires in
    /// the middle of the decision without racing a timer.
    pub fn hold_decisions(&self, on: bool) {
        self.switches.held.send_replace(on);
    }

    /// Switches every fault off.
    pub fn clear(&self) {
        self.fail_appends(false);
        self.fail_decision_records(false);
        self.fail_reads(false);
        self.pause_projections(false);
        self.panic_view_reads(false);
        self.hold_decisions(false);
    }
}

/// The storage the service uses: the log wrapped to fail on demand under
/// the feature, the log itself without it.
#[cfg(feature = "fault-injection")]
pub(crate) type Faulty<L> = storage::FaultyStorage<L>;
/// The storage the service uses: the log itself without the feature.
#[cfg(not(feature = "fault-injection"))]
pub(crate) type Faulty<L> = L;

// The hooks the service calls. Without the feature each is a constant.
impl Faults {
    /// Wraps the storage the handlers and the follower use.
    pub(crate) fn storage<L>(&self, log: L) -> Faulty<L> {
        #[cfg(feature = "fault-injection")]
        return storage::FaultyStorage::new(log, self.clone());
        #[cfg(not(feature = "fault-injection"))]
        log
    }

    /// Returns once the follower may fold (at once unless paused).
    pub(crate) async fn projections_may_fold(&self) {
        #[cfg(feature = "fault-injection")]
        {
            let mut paused = self.switches.paused.subscribe();
            let _ = paused.wait_for(|paused| !paused).await;
        }
    }

    /// Panics while view reads are switched to panic.
    pub(crate) fn view_read(&self) {
        #[cfg(feature = "fault-injection")]
        if self.switches.view_reads_panic.load(Ordering::SeqCst) {
            panic!("injected fault: panic while reading the current state");
        }
    }

    /// Returns once decisions may be recorded (at once unless held).
    #[cfg(feature = "fault-injection")]
    async fn decisions_may_be_recorded(&self) {
        let mut held = self.switches.held.subscribe();
        let _ = held.wait_for(|held| !held).await;
    }
}

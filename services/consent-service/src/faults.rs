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
//! | `fail_evaluation` | a casbin error, a casbin panic, or a panic in computing a decision |
//! | `hold_decisions` | decisions wait, between evaluating and recording, until released |

#[cfg(feature = "fault-injection")]
mod storage;

#[cfg(feature = "fault-injection")]
use std::sync::Arc;
#[cfg(feature = "fault-injection")]
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use icr_decision::{AccessRequest, Engine, Facts, Verdict};

/// A failure to inject into access decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvaluationFault {
    /// casbin returns an error.
    CasbinError,
    /// casbin panics.
    CasbinPanic,
    /// The service panics while computing a decision, outside casbin.
    Panic,
}

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
    /// 0 for none, else 1 + the [`EvaluationFault`]'s index.
    evaluation: AtomicU8,
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

    /// Every decision meets `fault` until it is set to `None`.
    pub fn fail_evaluation(&self, fault: Option<EvaluationFault>) {
        let code = fault.map_or(0, |f| 1 + f as u8);
        self.switches.evaluation.store(code, Ordering::SeqCst);
    }

    /// Every decision waits between being evaluated and being recorded
    /// while `on`: a delay as long as the test wants, so a client's deadline
    /// expires in the middle of the decision without racing a timer.
    pub fn hold_decisions(&self, on: bool) {
        self.switches.held.send_replace(on);
    }

    /// Switches every fault off.
    pub fn clear(&self) {
        self.fail_appends(false);
        self.fail_decision_records(false);
        self.fail_reads(false);
        self.pause_projections(false);
        self.fail_evaluation(None);
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

    /// Panics if asked to panic while computing a decision.
    pub(crate) fn panic_in_decision(&self) {
        #[cfg(feature = "fault-injection")]
        if self.evaluation() == Some(EvaluationFault::Panic) {
            panic!("injected fault: panic while computing a decision");
        }
    }

    /// Decides with `engine`, meeting an injected casbin fault if one is set.
    pub(crate) fn decide(
        &self,
        engine: &Engine,
        request: &AccessRequest<'_>,
        facts: &Facts,
    ) -> Verdict {
        #[cfg(feature = "fault-injection")]
        {
            use icr_decision::InjectedFault;
            let fault = match self.evaluation() {
                Some(EvaluationFault::CasbinError) => Some(InjectedFault::CasbinError),
                Some(EvaluationFault::CasbinPanic) => Some(InjectedFault::CasbinPanic),
                Some(EvaluationFault::Panic) | None => None,
            };
            if let Some(fault) = fault {
                return engine.decide_with_fault(request, facts, fault);
            }
        }
        engine.decide(request, facts)
    }

    /// Returns once decisions may go on to be recorded (at once unless held).
    pub(crate) async fn decision_may_proceed(&self) {
        #[cfg(feature = "fault-injection")]
        {
            let mut held = self.switches.held.subscribe();
            let _ = held.wait_for(|held| !held).await;
        }
    }

    #[cfg(feature = "fault-injection")]
    fn evaluation(&self) -> Option<EvaluationFault> {
        const FAULTS: [EvaluationFault; 3] = [
            EvaluationFault::CasbinError,
            EvaluationFault::CasbinPanic,
            EvaluationFault::Panic,
        ];
        let code = self.switches.evaluation.load(Ordering::SeqCst);
        FAULTS.get(usize::from(code).checked_sub(1)?).copied()
    }
}

//! The service's OpenTelemetry instruments. The log's own (append latency,
//! flush duration and batch size) are in `icr-log`.
//!
//! | instrument | kind, unit | attributes |
//! |---|---|---|
//! | `icr.decisions` | counter, `{decision}` | `icr.decision.outcome` (allow, deny), `icr.decision.reason` |
//! | `icr.authorize.duration` | histogram, s | `rpc.method` (Authorize, AuthorizeBatch), `rpc.grpc.status_code` |
//! | `icr.projection.position` | gauge, `{event}` | — |
//! | `icr.projection.lag` | gauge, `{event}` | — |
//!
//! Decisions are counted once recorded in the audit, that is once given.
//! Reasons are the fixed codes of `policies/README.md`, so the counter's
//! series are bounded.

use std::time::Instant;

use icr_log::SledLog;
use icr_proto::pb::{Decision, Outcome};
use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram, ObservableGauge};

/// Name of the meter, reported as the instrumentation scope.
const METER: &str = "consent-service";

/// Bucket bounds in seconds for an Authorize, from a decision served from
/// memory (well under a millisecond) to one waiting on a slow disk.
const SECONDS_BOUNDS: [f64; 16] = [
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// The instruments the handlers record on.
#[derive(Clone, Debug)]
pub(crate) struct Metrics {
    decisions: Counter<u64>,
    authorize: Histogram<f64>,
}

impl Metrics {
    /// Instruments on the global meter provider as it is now (no-ops when
    /// nothing is exported).
    pub(crate) fn new() -> Self {
        let meter = opentelemetry::global::meter(METER);
        Self {
            decisions: meter
                .u64_counter("icr.decisions")
                .with_unit("{decision}")
                .with_description("Access decisions given, by outcome and reason")
                .build(),
            authorize: meter
                .f64_histogram("icr.authorize.duration")
                .with_unit("s")
                .with_description("Time to answer Authorize and AuthorizeBatch, recording included")
                .with_boundaries(SECONDS_BOUNDS.to_vec())
                .build(),
        }
    }

    /// Counts recorded decisions.
    pub(crate) fn decided(&self, decisions: &[Decision]) {
        for decision in decisions {
            let outcome = match Outcome::try_from(decision.outcome) {
                Ok(Outcome::Allow) => "allow",
                Ok(Outcome::Deny) => "deny",
                _ => "unspecified",
            };
            self.decisions.add(
                1,
                &[
                    KeyValue::new("icr.decision.outcome", outcome),
                    KeyValue::new("icr.decision.reason", decision.reason.clone()),
                ],
            );
        }
    }

    /// Runs `answer`, the handling of one `method` call, and records how
    /// long it took and the status code it ends with.
    pub(crate) async fn authorize_timed<T>(
        &self,
        method: &'static str,
        answer: impl Future<Output = Result<T, tonic::Status>>,
    ) -> Result<T, tonic::Status> {
        let started = Instant::now();
        let answer = answer.await;
        let code = answer
            .as_ref()
            .map_or_else(tonic::Status::code, |_| tonic::Code::Ok);
        self.authorize.record(
            started.elapsed().as_secs_f64(),
            &[
                KeyValue::new("rpc.method", method),
                KeyValue::new("rpc.grpc.status_code", code as i64),
            ],
        );
        answer
    }
}

/// The projection gauges, read at each export; held for as long as the
/// service runs.
#[derive(Debug)]
pub(crate) struct ProjectionGauges {
    _position: ObservableGauge<u64>,
    _lag: ObservableGauge<u64>,
}

/// Registers `icr.projection.position` (the log position the projections
/// have applied) and `icr.projection.lag` (durable events not yet applied).
/// `applied` answers the position, or `None` for a failed view, which
/// reports neither: its position means nothing any more.
pub(crate) fn projection_gauges(
    applied: impl Fn() -> Option<u64> + Clone + Send + Sync + 'static,
    log: SledLog,
) -> ProjectionGauges {
    let meter = opentelemetry::global::meter(METER);
    let position = {
        let applied = applied.clone();
        meter
            .u64_observable_gauge("icr.projection.position")
            .with_unit("{event}")
            .with_description("Log position the projections have applied")
            .with_callback(move |observer| {
                if let Some(position) = applied() {
                    observer.observe(position, &[]);
                }
            })
            .build()
    };
    let lag = meter
        .u64_observable_gauge("icr.projection.lag")
        .with_unit("{event}")
        .with_description("Durable events the projections have not applied yet")
        .with_callback(move |observer| {
            if let Some(position) = applied() {
                observer.observe(log.head().saturating_sub(position), &[]);
            }
        })
        .build();
    ProjectionGauges {
        _position: position,
        _lag: lag,
    }
}

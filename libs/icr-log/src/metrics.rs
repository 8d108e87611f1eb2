//! The log's OpenTelemetry instruments: how long an append or a decision
//! record takes to become durable, and what each group-commit flush carries.
//!
//! Instruments come from the global meter provider when the log is opened.
//! Without one (the embedded default, tests) they are no-ops; the service
//! installs its provider before it opens the log when OTLP export is on.

use std::time::Instant;

use opentelemetry::KeyValue;
use opentelemetry::metrics::Histogram;

/// Name of the meter, reported as the instrumentation scope.
const METER: &str = "icr-log";

/// Bucket bounds in seconds for durations from a cached write (tens of
/// microseconds) to a slow disk (seconds).
pub(crate) const SECONDS_BOUNDS: [f64; 16] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0,
];

/// Bucket bounds for the records one flush makes durable.
const BATCH_BOUNDS: [f64; 11] = [
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
];

/// Which of the two logs a measurement is about.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Kind {
    /// The event log.
    Events,
    /// The decision audit.
    Decisions,
}

impl Kind {
    fn attribute(self) -> [KeyValue; 1] {
        let name = match self {
            Self::Events => "events",
            Self::Decisions => "decisions",
        };
        [KeyValue::new("icr.log", name)]
    }
}

/// The log's instruments.
pub(crate) struct LogMetrics {
    /// `icr.log.append.duration`: from an append (or a decision record)
    /// being submitted to its acknowledgement, once durable.
    append: Histogram<f64>,
    /// `icr.log.flush.duration`: one flush and sync to disk.
    flush: Histogram<f64>,
    /// `icr.log.flush.batch_size`: records made durable by one flush.
    batch: Histogram<u64>,
}

impl LogMetrics {
    /// Instruments on the global meter provider as it is now.
    pub(crate) fn new() -> Self {
        let meter = opentelemetry::global::meter(METER);
        Self {
            append: meter
                .f64_histogram("icr.log.append.duration")
                .with_unit("s")
                .with_description("Time from submitting an append or a decision record to its durable acknowledgement")
                .with_boundaries(SECONDS_BOUNDS.to_vec())
                .build(),
            flush: meter
                .f64_histogram("icr.log.flush.duration")
                .with_unit("s")
                .with_description("Time of one group-commit flush and sync to disk")
                .with_boundaries(SECONDS_BOUNDS.to_vec())
                .build(),
            batch: meter
                .u64_histogram("icr.log.flush.batch_size")
                .with_unit("{record}")
                .with_description("Events or decision records made durable by one group-commit flush")
                .with_boundaries(BATCH_BOUNDS.to_vec())
                .build(),
        }
    }

    /// Records an acknowledged append of `kind` submitted at `started`.
    pub(crate) fn appended(&self, kind: Kind, started: Instant) {
        self.append
            .record(started.elapsed().as_secs_f64(), &kind.attribute());
    }

    /// Records a flush that took since `started` and made `events` events
    /// and `decisions` decision records durable.
    /// A log the flush carried nothing of is not a batch of it: no sample.
    pub(crate) fn flushed(&self, started: Instant, events: u64, decisions: u64) {
        self.flush.record(started.elapsed().as_secs_f64(), &[]);
        for (kind, records) in [(Kind::Events, events), (Kind::Decisions, decisions)] {
            if records > 0 {
                self.batch.record(records, &kind.attribute());
            }
        }
    }
}

//! What a run measured: latencies in an HDR histogram, outcomes by kind,
//! and the summary printed as text or as one JSON object.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Longest latency the histogram tells apart, in nanoseconds (one hour);
/// longer ones are recorded as this.
const HIGHEST_NANOS: u64 = 3_600_000_000_000;

/// Precision of the histogram: three significant digits (0.1 %).
const SIGNIFICANT_DIGITS: u8 = 3;

/// How one request ended, as the load generator judges it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Succeeded. `allowed` and `denied` count the decisions in the answer
    /// (zero for writes and the no-op).
    Ok {
        /// Decisions that allowed.
        allowed: u32,
        /// Decisions that denied.
        denied: u32,
    },
    /// Failed: the gRPC code name (`Unavailable`, …), `ClientTimeout` when
    /// no answer came in time, or `MalformedResponse` when the answer did not
    /// hold what it must.
    Error(String),
}

impl Outcome {
    /// A success with no decisions in it.
    pub const OK: Self = Self::Ok {
        allowed: 0,
        denied: 0,
    };

    /// The failure for a gRPC status.
    pub fn status(status: &tonic::Status) -> Self {
        Self::Error(format!("{:?}", status.code()))
    }

    /// The failure for an answer that lacks what it must carry.
    pub fn malformed() -> Self {
        Self::Error("MalformedResponse".into())
    }
}

/// Latencies and outcomes of the requests one task measured; merged into
/// one at the end of a run.
#[derive(Debug, Clone)]
pub struct Recorder {
    /// Latencies of successful requests, in nanoseconds.
    histogram: Histogram<u64>,
    ok: u64,
    allowed: u64,
    denied: u64,
    errors: BTreeMap<String, u64>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    /// An empty recorder.
    pub fn new() -> Self {
        let histogram = Histogram::new_with_bounds(1, HIGHEST_NANOS, SIGNIFICANT_DIGITS)
            .expect("constant histogram bounds are valid");
        Self {
            histogram,
            ok: 0,
            allowed: 0,
            denied: 0,
            errors: BTreeMap::new(),
        }
    }

    /// Counts one request. Only successes go into the latency histogram: a
    /// fast refusal would otherwise flatter the percentiles.
    pub fn record(&mut self, latency: Duration, outcome: Outcome) {
        match outcome {
            Outcome::Ok { allowed, denied } => {
                let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
                self.histogram.saturating_record(nanos.max(1));
                self.ok += 1;
                self.allowed += u64::from(allowed);
                self.denied += u64::from(denied);
            }
            Outcome::Error(kind) => *self.errors.entry(kind).or_default() += 1,
        }
    }

    /// Adds `other`'s counts and latencies to this one.
    pub fn merge(&mut self, other: &Recorder) {
        self.histogram
            .add(&other.histogram)
            .expect("recorders share their bounds");
        self.ok += other.ok;
        self.allowed += other.allowed;
        self.denied += other.denied;
        for (kind, n) in &other.errors {
            *self.errors.entry(kind.clone()).or_default() += n;
        }
    }

    /// Successful requests counted so far.
    pub fn ok(&self) -> u64 {
        self.ok
    }

    /// The summary of a run whose measured part lasted `measured`.
    pub fn report(&self, run: RunDescription, measured: Duration, decisions: bool) -> Report {
        let errors_total = self.errors.values().sum();
        let seconds = measured.as_secs_f64();
        let micros = |q: f64| self.histogram.value_at_quantile(q) as f64 / 1000.0;
        let latency_us = if self.histogram.is_empty() {
            Latency::default()
        } else {
            Latency {
                p50: micros(0.5),
                p90: micros(0.9),
                p99: micros(0.99),
                p999: micros(0.999),
                max: self.histogram.max() as f64 / 1000.0,
                mean: self.histogram.mean() / 1000.0,
            }
        };
        Report {
            run,
            measured_s: seconds,
            requests: self.ok + errors_total,
            ok: self.ok,
            ok_per_s: if seconds > 0.0 {
                self.ok as f64 / seconds
            } else {
                0.0
            },
            allowed: decisions.then_some(self.allowed),
            denied: decisions.then_some(self.denied),
            errors_total,
            errors: self.errors.clone(),
            latency_us,
        }
    }
}

/// How a run was set up, repeated in its report.
#[derive(Debug, Clone, Serialize)]
pub struct RunDescription {
    /// Target name, e.g. `authorize`.
    pub target: String,
    /// `closed` (fixed concurrency) or `open` (fixed rate).
    pub mode: String,
    /// Where the requests went.
    pub endpoint: String,
    /// HTTP/2 connections the requests were spread over.
    pub connections: usize,
    /// Requests in flight (closed loop), or the most allowed (open loop).
    pub concurrency: usize,
    /// Requests per second scheduled (open loop only).
    pub rate: Option<f64>,
    /// Patients the requests were spread over.
    pub patients: u32,
}

/// Latency percentiles of the successful requests, in microseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Slowest.
    pub max: f64,
    /// Arithmetic mean.
    pub mean: f64,
}

/// The summary of one run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// How the run was set up.
    #[serde(flatten)]
    pub run: RunDescription,
    /// Length of the measured part (after warm-up), in seconds.
    pub measured_s: f64,
    /// Requests measured: successes plus errors.
    pub requests: u64,
    /// Successful requests.
    pub ok: u64,
    /// Successful requests per second.
    pub ok_per_s: f64,
    /// Decisions that allowed (authorize targets only).
    pub allowed: Option<u64>,
    /// Decisions that denied (authorize targets only); a deny is a
    /// successful request, but the setup probably did not mean it.
    pub denied: Option<u64>,
    /// Failed requests.
    pub errors_total: u64,
    /// Failed requests by gRPC code (or `ClientTimeout`, `MalformedResponse`).
    pub errors: BTreeMap<String, u64>,
    /// Latency of the successful requests.
    pub latency_us: Latency,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.run;
        let rate = r
            .rate
            .map_or_else(String::new, |rate| format!(" at {rate}/s"));
        writeln!(
            f,
            "{} against {} ({} loop{rate}, {} connections, concurrency {}, {} patients)",
            r.target, r.endpoint, r.mode, r.connections, r.concurrency, r.patients
        )?;
        writeln!(
            f,
            "  measured   {:.2} s: {} requests, {} ok, {} errors",
            self.measured_s, self.requests, self.ok, self.errors_total
        )?;
        writeln!(f, "  throughput {:.0} ok/s", self.ok_per_s)?;
        if let (Some(allowed), Some(denied)) = (self.allowed, self.denied) {
            writeln!(f, "  decisions  {allowed} allowed, {denied} denied")?;
        }
        for (kind, n) in &self.errors {
            writeln!(f, "  error      {kind}: {n}")?;
        }
        let l = &self.latency_us;
        writeln!(
            f,
            "  latency µs p50 {:.0}  p90 {:.0}  p99 {:.0}  p99.9 {:.0}  max {:.0}  mean {:.0}",
            l.p50, l.p90, l.p99, l.p999, l.max, l.mean
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn description() -> RunDescription {
        RunDescription {
            target: "authorize".into(),
            mode: "closed".into(),
            endpoint: "http://127.0.0.1:1".into(),
            connections: 1,
            concurrency: 1,
            rate: None,
            patients: 1,
        }
    }

    #[test]
    fn errors_are_counted_by_kind_and_kept_out_of_the_latencies() {
        let mut a = Recorder::new();
        a.record(
            Duration::from_micros(100),
            Outcome::Ok {
                allowed: 1,
                denied: 0,
            },
        );
        a.record(
            Duration::from_micros(1),
            Outcome::status(&tonic::Status::unavailable("x")),
        );
        let mut b = Recorder::new();
        b.record(
            Duration::from_micros(300),
            Outcome::Ok {
                allowed: 0,
                denied: 1,
            },
        );
        b.record(Duration::from_micros(1), Outcome::malformed());
        a.merge(&b);
        let report = a.report(description(), Duration::from_secs(2), true);
        assert_eq!(report.requests, 4);
        assert_eq!(report.ok, 2);
        assert_eq!(report.ok_per_s, 1.0);
        assert_eq!((report.allowed, report.denied), (Some(1), Some(1)));
        assert_eq!(report.errors_total, 2);
        assert_eq!(report.errors["Unavailable"], 1);
        assert_eq!(report.errors["MalformedResponse"], 1);
        assert!((report.latency_us.p50 - 100.0).abs() < 1.0);
        assert!((report.latency_us.max - 300.0).abs() < 1.0);
    }

    #[test]
    fn json_has_one_flat_object() {
        let report = Recorder::new().report(description(), Duration::from_secs(1), false);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["target"], "authorize");
        assert!(json["allowed"].is_null());
        assert_eq!(json["latency_us"]["p99"], 0.0);
    }
}

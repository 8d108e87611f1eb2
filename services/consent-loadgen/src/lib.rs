//! Load generator for the ICR consent service, and the no-op gRPC peer that
//! measures the transport floor.
//!
//! It drives a running service over loopback with the generated tonic
//! clients, as record viewers and patient-facing services would, and reports
//! throughput, errors by gRPC code and latency percentiles from an HDR
//! histogram. It holds no rules and never touches storage: every request is
//! an ordinary gRPC call, and any failure counts as an error.
//!
//! # Layout
//! - [`driver`]: connects (`--connections` separate HTTP/2 channels), runs a
//!   closed loop (`--concurrency` requests in flight) or an open loop
//!   (`--rate`, latency counted from each request's scheduled time so
//!   queueing is not hidden), discards the warm-up.
//! - [`workload`]: what each [`Target`] sends and how its answer is judged
//!   (an authorize answer must carry one allow or deny per section asked; a
//!   write must be acknowledged as new).
//! - [`objections`]: lends patients to the write target one at a time, so
//!   objections and withdrawals alternate and each is accepted.
//! - [`report`]: the HDR histogram, outcome counts and the printed summary.
//! - [`seed`](mod@seed): registers synthetic patients through the API.
//! - [`noop`]: the no-op service, served as the consent service is.
//! - [`jetstream`]: the NATS JetStream peer of the durable-append
//!   comparison: the same closed loop and report, publishing events shaped
//!   as the log stores them and awaiting each acknowledgement.
//!
//! A run flows: connect → prepare (for writes, read each patient's
//! objection) → send until the end of the window → merge each task's
//! recorder → report.
#![forbid(unsafe_code)]

mod generated {
    #![allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]
    tonic::include_proto!("icr.bench.v1");
}

/// Messages and stubs of the no-op benchmark service, `icr.bench.v1`.
pub mod pb {
    pub use crate::generated::*;
}

mod calling;
pub mod driver;
pub mod jetstream;
pub mod noop;
pub mod objections;
pub mod report;
pub mod seed;
pub mod workload;

pub use driver::{LoadConfig, run};
pub use report::{Outcome, Report};
pub use seed::{Seeded, seed};
pub use workload::Target;

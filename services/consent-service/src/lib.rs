//! The ICR consent and access-control service.
//!
//! Record viewers ask it before releasing any section of a patient's
//! Integrated Care Record; patient-facing services record objections and
//! permissions; care feeds record registrations and care relationships;
//! policy administrators change policy; auditors replay the log.
//!
//! # Layout
//! - [`run`] (phases in `run`, the server in `router`): opens the sled log (refusing one that lost acknowledged
//!   records, `opening`), verifies its hash chains (refusing a broken log),
//!   loads the default policy pack into an empty log, rebuilds
//!   the projections, and serves gRPC until shutdown, signing checkpoints
//!   when it has a key (`tamper`).
//! - `api/`: one file per gRPC service. A write RPC's request proposes its
//!   event (one impl per request type, in its service's file beside the
//!   tonic method) and takes the one write path (`api/write`) into
//!   `writes`; a read validates (`validate`)
//!   and reads `view` or the log. The audit service
//!   is split: `audit` (replay, report, checkpoints), `replay` (filtered,
//!   resumable, live streams), `review` (the review queue) and `history`
//!   (point-in-time decisions and re-checks).
//! - `writes`: idempotency → load stream → decide → durable append → wait
//!   for the projections.
//! - `view`: projections and the casbin engine at one log position, and the
//!   follower task that folds new durable events into them.
//! - `status`: the one map from domain errors to gRPC codes.
//! - `calling_system`: the `x-calling-system` header, read by writes and
//!   decisions alike.
//! - `policy_files` and `startup`: the model, rules and policy pack (read
//!   and checked by `icr-packs`), loaded into a new log.
//! - `access`, `gate` and `overload`: who is calling (mutual TLS), what
//!   they may call, and the limits past which requests are refused.
//! - `health`: `grpc.health.v1`, tied to the projections and shutdown.
//! - [`config`]: the TOML configuration file under flags and variables.
//! - [`telemetry`]: OpenTelemetry traces (a span per RPC, `telemetry::rpc`)
//!   and metrics, exported over OTLP when the `OTEL_*` variables ask.
//! - [`faults`]: switches that make storage fail or stall, the follower
//!   pause and reads of the view panic, for tests (feature
//!   `fault-injection`; inert without it). The decision code has no hooks.
//!
//! Data flows one way: RPC → validate → command → append → project → decide.
//! Modules import each other one way too (`tests/tests/architecture`
//! checks it for every crate).
#![forbid(unsafe_code)]

mod access;
mod aggregates;
mod api;
mod calling_system;
pub mod config;
pub mod faults;
mod gate;
mod health;
mod opening;
mod overload;
mod policy_files;
mod router;
mod run;
pub mod shutdown;
mod snapshots;
mod startup;
mod status;
mod tamper;
pub mod telemetry;
mod validate;
mod view;
mod writes;

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use tokio::net::TcpListener;

pub use access::{CallerKind, Callers, MutualTls, certificate_identity};
pub use icr_log::ed25519_dalek::SigningKey;
pub use overload::Limits;
pub use policy_files::{DEFAULT_PACK, PolicyFiles};
pub use tamper::load_signing_key;

/// How often a checkpoint is signed while the log grows, by default.
pub const DEFAULT_CHECKPOINT_EVERY: Duration = Duration::from_secs(60);

/// How many events the projections fold between snapshots, by default.
pub const DEFAULT_SNAPSHOT_EVERY: u64 = 250_000;

/// What the service needs from storage: the event log and the decision
/// audit, sharing durability.
pub trait Storage:
    icr_log::EventLog + icr_log::DecisionAudit + icr_log::TamperEvidence + Clone
{
}

impl<T> Storage for T where
    T: icr_log::EventLog + icr_log::DecisionAudit + icr_log::TamperEvidence + Clone
{
}
pub use icr_proto::CALLING_SYSTEM_HEADER;

/// Longest in-flight requests may run on once shutdown begins; past it a
/// warning names the grace period and the service stops without them.
pub const DRAIN_GRACE: Duration = Duration::from_secs(30);

/// What the service needs to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Directory of the sled database.
    pub data_dir: PathBuf,
    /// Model, rules and policy pack.
    pub policy: PolicyFiles,
    /// Signs checkpoints of the hash chains; none are signed without it.
    pub signing_key: Option<SigningKey>,
    /// How often a checkpoint is signed while the log grows.
    pub checkpoint_every: Duration,
    /// Events folded between projection snapshots; 0 writes none (an
    /// existing snapshot is still used at start).
    pub snapshot_every: u64,
    /// Mutual TLS and the callers it identifies; `None` serves plain text
    /// to unauthenticated callers (local development only).
    pub tls: Option<MutualTls>,
    /// Overload limits.
    pub limits: Limits,
    /// Failures to inject into storage and the view, for tests (only with
    /// the `fault-injection` feature).
    #[cfg(feature = "fault-injection")]
    pub faults: faults::Faults,
}

impl Options {
    /// Options for `data_dir` and `policy`, signing no checkpoints.
    pub fn new(data_dir: impl Into<PathBuf>, policy: PolicyFiles) -> Self {
        Self {
            data_dir: data_dir.into(),
            policy,
            signing_key: None,
            checkpoint_every: DEFAULT_CHECKPOINT_EVERY,
            snapshot_every: DEFAULT_SNAPSHOT_EVERY,
            tls: None,
            limits: Limits::default(),
            #[cfg(feature = "fault-injection")]
            faults: faults::Faults::default(),
        }
    }

    /// The failures to inject: none without the `fault-injection` feature.
    pub(crate) fn faults(&self) -> faults::Faults {
        #[cfg(feature = "fault-injection")]
        return self.faults.clone();
        #[cfg(not(feature = "fault-injection"))]
        faults::Faults::default()
    }
}

/// Runs the service on `listener` until `shutdown` resolves.
///
/// The log is verified before anything is served. Every acknowledged write
/// is already durable, so stopping needs no final flush; in-flight requests
/// are allowed to finish, live replays end, and with a signing key a final
/// checkpoint is signed.
pub async fn run(
    listener: TcpListener,
    options: Options,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    run_with_health_port(listener, None, options, shutdown).await
}

/// [`run`], also serving `grpc.health.v1` in plain text on `health_port`
/// from the start (`NOT_SERVING` until the log is folded) until the service
/// has stopped, for probes that do not speak TLS.
pub async fn run_with_health_port(
    listener: TcpListener,
    health_port: Option<TcpListener>,
    options: Options,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    run::run(listener, health_port, options, shutdown).await
}

//! The ICR consent and access-control service.
//!
//! Record viewers ask it before releasing any section of a patient's
//! Integrated Care Record; patient-facing services record objections and
//! permissions; care feeds record registrations and care relationships;
//! policy administrators change policy; auditors replay the log.
//!
//! # Layout
//! - [`run`]: opens the sled log (refusing one that lost acknowledged
//!   records, `opening`), verifies its hash chains (refusing a broken log),
//!   loads the default policy pack into an empty log, rebuilds
//!   the projections, and serves gRPC until shutdown, signing checkpoints
//!   when it has a key (`tamper`).
//! - `api/`: one file per gRPC service. Handlers validate (`validate`), then
//!   either write through `writes` or read through `view`. The audit service
//!   is split: `audit` (replay, report, checkpoints), `replay` (filtered,
//!   resumable, live streams), `review` (the review queue) and `history`
//!   (point-in-time decisions and re-checks).
//! - `writes`: idempotency → load stream → decide → durable append → wait
//!   for the projections.
//! - `view`: projections and the casbin engine at one log position, and the
//!   follower task that folds new durable events into them.
//! - `status`: the one map from domain errors to gRPC codes.
//! - `policy_files` and `startup`: the model, rules and policy pack.
//! - `access`, `gate` and `overload`: who is calling (mutual TLS), what
//!   they may call, and the limits past which requests are refused.
//! - `health`: `grpc.health.v1`, tied to the projections and shutdown.
//! - [`config`]: the TOML configuration file under flags and variables.
//! - [`telemetry`]: OpenTelemetry traces (a span per RPC, `telemetry::rpc`)
//!   and metrics, exported over OTLP when the `OTEL_*` variables ask.
//! - [`faults`]: switches that make storage, projections and decisions fail
//!   on demand, for tests (feature `fault-injection`; inert without it).
//!
//! Data flows one way: RPC → validate → command → append → project → decide.
#![forbid(unsafe_code)]

mod access;
mod aggregates;
mod api;
pub mod config;
pub mod faults;
mod gate;
mod health;
mod opening;
mod overload;
mod policy_files;
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
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use icr_log::SledLog;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tonic::transport::server::TcpIncoming;

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
pub use writes::CALLING_SYSTEM_HEADER;

/// Longest the service waits at start for the projections to fold the log.
const REBUILD_WAIT: Duration = Duration::from_secs(24 * 60 * 60);

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
    /// Failures to inject, for tests (switches only with the
    /// `fault-injection` feature; without it, none).
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
            faults: faults::Faults::default(),
        }
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
    let (reporter, health_service) = tonic_health::server::health_reporter();
    health::set(&reporter, tonic_health::ServingStatus::NotServing).await;
    let (health_stop, health_stopped) = tokio::sync::oneshot::channel::<()>();
    let health_port = health_port.map(|port| {
        let stopped = async move {
            let _ = health_stopped.await;
        };
        health::serve_port(port, health_service.clone(), stopped)
    });
    // The newest snapshot is decoded while sled opens the log.
    let snapshots = snapshots::Snapshots::new(&options.data_dir, options.signing_key.clone());
    let newest = tokio::task::spawn_blocking({
        let snapshots = snapshots.clone();
        move || snapshots.read_newest()
    });
    let data_dir = options.data_dir.clone();
    let log = tokio::task::spawn_blocking(move || SledLog::open(data_dir))
        .await
        .context("the task opening the log failed")?
        .map_err(|error| opening::refusal(error, &options.data_dir))?;
    let newest = newest.await.context("the snapshot reader failed")?;
    let snapshot = snapshots.load(&log, newest).await?;
    let snapshot_position = snapshot
        .as_ref()
        .map_or(0, icr_projections::Projections::position);
    // Without a snapshot the whole log is folded anyway: verify it first.
    // From a snapshot, serving starts after the tail and the whole log is
    // verified beside it; a break stops every decision and write.
    let stop_verifying = Arc::new(AtomicBool::new(false));
    // Whether the whole log has verified: until then nothing is signed.
    let verified = Arc::new(AtomicBool::new(false));
    if snapshot.is_none() {
        let (key, dir) = (options.signing_key.as_ref(), &options.data_dir);
        tamper::verify_at_start(&log, key, dir, stop_verifying.clone()).await?;
        verified.store(true, Ordering::Relaxed);
    }
    tamper::announce_signing(options.signing_key.as_ref());
    // Refuse a bad engine configuration before serving anything.
    options.policy.check().await?;
    let from_snapshot = snapshot.is_some();
    let view = view::View::starting_from(snapshot.unwrap_or_default(), options.faults.clone());
    // The follower and the handlers use storage that fails on demand under
    // the `fault-injection` feature; without it, `storage` is `log`.
    let storage = options.faults.storage(log.clone());
    let follower = tokio::spawn(view.clone().follow(storage.clone(), options.policy.clone()));
    let mut guard = StopOnDrop {
        stop: stop_verifying.clone(),
        tasks: vec![follower.abort_handle()],
    };
    let verifier = from_snapshot.then(|| {
        tokio::spawn(tamper::verify_beside_serving(
            log.clone(),
            options.signing_key.clone(),
            options.data_dir.clone(),
            view.clone(),
            stop_verifying.clone(),
            verified.clone(),
        ))
    });
    guard
        .tasks
        .extend(verifier.as_ref().map(JoinHandle::abort_handle));
    startup::load_pack_if_new(&log, &view, &options.policy).await?;
    let head = log.head();
    view.wait_for(head, REBUILD_WAIT)
        .await
        .context("rebuilding projections from the log")?;
    // Snapshots start once the log is folded, not at every few events of
    // the first fold.
    let snapshot_writer = (options.snapshot_every > 0).then(|| {
        let (every, last) = (options.snapshot_every, snapshot_position);
        tokio::spawn(snapshots.keep_writing(view.clone(), log.clone(), every, last))
    });
    guard
        .tasks
        .extend(snapshot_writer.as_ref().map(JoinHandle::abort_handle));
    let local: SocketAddr = listener.local_addr()?;
    let shutdown = shutdown::armed(shutdown).await;
    tracing::info!(%local, position = head, data_dir = %options.data_dir.display(), "serving");
    // The key vouches only for a log that verified and was not found
    // broken since.
    let may_sign = {
        let (verified, view) = (verified.clone(), view.clone());
        move || verified.load(Ordering::Relaxed) && view.failure().is_none()
    };
    let signer = options.signing_key.clone().map(|key| {
        let every = options.checkpoint_every;
        tokio::spawn(tamper::sign_periodically(
            log.clone(),
            key,
            every,
            may_sign.clone(),
        ))
    });
    guard
        .tasks
        .extend(signer.as_ref().map(JoinHandle::abort_handle));
    // Live replays end when shutdown begins, or the server would wait for
    // them for ever.
    let (stopping, stopped) = tokio::sync::watch::channel(false);
    // After a storage failure sled refuses every write until it is
    // reopened: stop, and exit with an error so that the service is
    // restarted (and verifies the log) rather than serving without writes.
    let failing = log.clone();
    let shutdown = async move {
        tokio::select! {
            () = shutdown => {}
            failure = failing.storage_failed() => {
                tracing::error!(%failure, "storage failed: stopping so that a restart reopens the log");
            }
        }
        stopping.send_replace(true);
    };
    let _gauges = telemetry::metrics::projection_gauges(view.clone(), log.clone());
    let health_keeper = tokio::spawn(health::keep(
        reporter.clone(),
        view.clone(),
        stopped.clone(),
    ));
    let described = [
        icr_proto::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
    ];
    // Both versions of reflection, as grpc-go serves them: v1alpha is what
    // older grpcurl and grpcui and several GUI clients still speak. Each
    // lists every service, the other version included.
    let reflection = || {
        described.iter().fold(
            tonic_reflection::server::Builder::configure().include_reflection_service(false),
            |builder, set| builder.register_encoded_file_descriptor_set(set),
        )
    };
    let reflection_v1alpha = reflection()
        .build_v1alpha()
        .context("server reflection (v1alpha)")?;
    let reflection = reflection().build_v1().context("server reflection")?;
    let traced = telemetry::rpc::layer(&described).context("naming RPC spans")?;
    let api = api::Api::new(storage, view, options.policy, stopped);
    let limits = options.limits;
    let (decisions, consent, care, policy, audit) =
        api::servers::all(api, limits.max_message_bytes);
    let mut server = tonic::transport::Server::builder();
    let access = match options.tls {
        Some(tls) => {
            // Optional at the handshake so that a caller without a
            // certificate hears `Unauthenticated` rather than a reset.
            let config = tonic::transport::ServerTlsConfig::new()
                .identity(tls.identity)
                .client_ca_root(tls.client_ca)
                .client_auth_optional(true);
            server = server.tls_config(config).context("TLS configuration")?;
            access::Access::mutual_tls(tls.callers)
        }
        None => access::Access::development(),
    };
    let served = server
        .max_concurrent_streams(limits.max_concurrent_streams)
        .timeout(limits.request_timeout)
        .layer(traced)
        .layer(tower::util::MapResponseLayer::new(
            overload::too_large_is_resource_exhausted,
        ))
        .layer(gate::Gate(access))
        .layer(gate::Gate(overload::RateLimit::new(
            limits.per_caller_per_second,
        )))
        .layer(tower::load_shed::LoadShedLayer::new())
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            limits.max_in_flight,
        ))
        .add_service(decisions)
        .add_service(consent)
        .add_service(care)
        .add_service(policy)
        .add_service(audit)
        .add_service(health_service)
        .add_service(reflection)
        .add_service(reflection_v1alpha)
        // Replies go out at once: with Nagle on, a reply of a few KB waits
        // for the client's delayed ACK (about 40 ms).
        .serve_with_incoming_shutdown(
            TcpIncoming::from(listener).with_nodelay(Some(true)),
            shutdown,
        )
        .await;
    // Decided before the follower is stopped, which marks the view failed.
    let sign_at_stop = may_sign();
    health_keeper.abort();
    health::set(&reporter, tonic_health::ServingStatus::NotServing).await;
    // Wait for the follower to be gone so that, once `run` returns, nothing
    // holds the sled directory and it can be opened again at once.
    for task in [Some(follower), snapshot_writer].into_iter().flatten() {
        task.abort();
        let _ = task.await;
    }
    // Verification reads the log on a blocking thread: stop it and wait,
    // so that nothing holds the directory after.
    stop_verifying.store(true, Ordering::Relaxed);
    if let Some(verifier) = verifier {
        let _ = verifier.await;
    }
    if let (Some(signer), Some(key)) = (signer, &options.signing_key) {
        signer.abort();
        let _ = signer.await;
        if sign_at_stop {
            tamper::sign(&log, key).await;
        }
    }
    // The health port answers NOT_SERVING until here; dropping its sender on
    // an early return stops it too.
    let _ = health_stop.send(());
    if let Some(port) = health_port {
        let _ = port.await;
    }
    drop(guard);
    let failure = log.storage_failure();
    drop(log);
    served.context("gRPC server failed")?;
    match failure {
        Some(failure) => anyhow::bail!("stopped after a storage failure: {failure}"),
        None => Ok(()),
    }
}

/// Stops the background tasks when `run` returns before its orderly
/// shutdown (a start that fails part way), so that they do not outlive it.
/// A verification running on a blocking thread sees the flag and ends
/// within an item.
struct StopOnDrop {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::AbortHandle>,
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.tasks.iter().for_each(tokio::task::AbortHandle::abort);
    }
}

//! Start-up and shutdown in named phases, each in its own span: open,
//! load snapshot, verify, fold tail, serve, drain.
//!
//! Nothing is served before the log is verified (or, from a snapshot, is
//! being verified beside serving) and folded. Stopping drains in-flight
//! requests for at most [`DRAIN_GRACE`](crate::DRAIN_GRACE), then stops the
//! background tasks and, with a signing key, signs a final checkpoint.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use icr_log::SledLog;
use icr_projections::Projections;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::transport::server::TcpIncoming;
use tonic_health::pb::health_server::{Health, HealthServer};
use tracing::Instrument;

use crate::faults::Faulty;
use crate::snapshots::{Candidate, Snapshots};
use crate::view::View;
use crate::{DRAIN_GRACE, Options, health, shutdown, startup, tamper, telemetry};

/// Longest the service waits at start for the projections to fold the log.
const REBUILD_WAIT: Duration = Duration::from_secs(24 * 60 * 60);

/// What gRPC serving yields when it ends.
type Served = Result<(), tonic::transport::Error>;

/// The service between its phases: the open log and what verifies it.
struct Startup {
    options: Options,
    log: SledLog,
    snapshots: Snapshots,
    /// Stops a verification in progress (a break found, or stopping).
    stop_verifying: Arc<AtomicBool>,
    /// Whether the whole log has verified: until then nothing is signed.
    verified: Arc<AtomicBool>,
    guard: StopOnDrop,
}

/// The background tasks that keep the view and its snapshots current.
pub(crate) struct Folded {
    pub(crate) view: Arc<View>,
    pub(crate) storage: Faulty<SledLog>,
    follower: JoinHandle<()>,
    verifier: Option<JoinHandle<()>>,
    snapshot_writer: Option<JoinHandle<()>>,
    head: u64,
}

/// Serving, from the moment shutdown began.
struct Serving<F> {
    /// The server draining its in-flight requests, or already done.
    server: Result<Served, Pin<Box<F>>>,
    signer: Option<JoinHandle<()>>,
    health_keeper: JoinHandle<()>,
    _gauges: telemetry::metrics::ProjectionGauges,
}

/// Runs the phases in order; see [`crate::run_with_health_port`].
pub(crate) async fn run(
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
    let (mut startup, newest) = Startup::open(options)
        .instrument(tracing::info_span!("open"))
        .await?;
    let snapshot = startup
        .load_snapshot(newest)
        .instrument(tracing::info_span!("load snapshot"))
        .await?;
    startup
        .verify(snapshot.is_some())
        .instrument(tracing::info_span!("verify"))
        .await?;
    let folded = startup
        .fold_tail(snapshot)
        .instrument(tracing::info_span!("fold tail"))
        .await?;
    let serving = startup
        .serve(&folded, listener, shutdown, &reporter, health_service)
        .instrument(tracing::info_span!("serve"))
        .await?;
    let served = startup
        .drain(serving, folded, &reporter)
        .instrument(tracing::info_span!("drain"))
        .await;
    // The health port answers NOT_SERVING until here; dropping its sender on
    // an early return stops it too.
    let _ = health_stop.send(());
    if let Some(port) = health_port {
        let _ = port.await;
    }
    let Startup { log, guard, .. } = startup;
    drop(guard);
    let failure = log.storage_failure();
    drop(log);
    served.context("gRPC server failed")?;
    match failure {
        Some(failure) => anyhow::bail!("stopped after a storage failure: {failure}"),
        None => Ok(()),
    }
}

impl Startup {
    /// Opens the log, refusing one that lost acknowledged records; the
    /// newest snapshot is decoded meanwhile.
    async fn open(options: Options) -> anyhow::Result<(Self, JoinHandle<Option<Candidate>>)> {
        let snapshots = Snapshots::new(&options.data_dir, options.signing_key.clone());
        let newest = tokio::task::spawn_blocking({
            let snapshots = snapshots.clone();
            move || snapshots.read_newest()
        });
        let data_dir = options.data_dir.clone();
        let log = tokio::task::spawn_blocking(move || SledLog::open(data_dir))
            .await
            .context("the task opening the log failed")?
            .map_err(|error| crate::opening::refusal(error, &options.data_dir))?;
        let stop_verifying = Arc::new(AtomicBool::new(false));
        let guard = StopOnDrop {
            stop: stop_verifying.clone(),
            tasks: Vec::new(),
        };
        let startup = Self {
            options,
            log,
            snapshots,
            stop_verifying,
            verified: Arc::new(AtomicBool::new(false)),
            guard,
        };
        Ok((startup, newest))
    }

    /// The newest snapshot that fits the log, if any.
    async fn load_snapshot(
        &self,
        newest: JoinHandle<Option<Candidate>>,
    ) -> anyhow::Result<Option<Projections>> {
        let newest = newest.await.context("the snapshot reader failed")?;
        self.snapshots.load(&self.log, newest).await
    }

    /// Without a snapshot the whole log is folded anyway: verify it first.
    /// From a snapshot, serving starts after the tail and the whole log is
    /// verified beside it (`fold_tail`); a break stops every decision and
    /// write. A bad engine configuration is refused here too.
    async fn verify(&self, from_snapshot: bool) -> anyhow::Result<()> {
        let options = &self.options;
        if !from_snapshot {
            let (key, dir) = (options.signing_key.as_ref(), &options.data_dir);
            tamper::verify_at_start(&self.log, key, dir, self.stop_verifying.clone()).await?;
            self.verified.store(true, Ordering::Relaxed);
        }
        tamper::announce_signing(options.signing_key.as_ref());
        options.policy.check().await
    }

    /// Starts the follower (and, from a snapshot, the verifier), loads the
    /// pack into a new log, and waits until the view has folded the log.
    async fn fold_tail(&mut self, snapshot: Option<Projections>) -> anyhow::Result<Folded> {
        let (log, options) = (&self.log, &self.options);
        let snapshot_position = snapshot.as_ref().map_or(0, Projections::position);
        let from_snapshot = snapshot.is_some();
        let view = View::starting_from(snapshot.unwrap_or_default(), options.faults());
        // The follower and the handlers use storage that fails on demand under
        // the `fault-injection` feature; without it, `storage` is `log`.
        let storage = options.faults().storage(log.clone());
        let follower = tokio::spawn(view.clone().follow(storage.clone(), options.policy.clone()));
        self.guard.tasks.push(follower.abort_handle());
        let verifier = from_snapshot.then(|| {
            tokio::spawn(tamper::verify_beside_serving(
                log.clone(),
                options.signing_key.clone(),
                options.data_dir.clone(),
                view.clone(),
                self.stop_verifying.clone(),
                self.verified.clone(),
            ))
        });
        self.guard.watch(verifier.as_ref());
        startup::load_pack_if_new(log, &view, &options.policy).await?;
        let head = log.head();
        view.wait_for(head, REBUILD_WAIT)
            .await
            .context("rebuilding projections from the log")?;
        // Snapshots start once the log is folded, not at every few events of
        // the first fold.
        let snapshot_writer = (options.snapshot_every > 0).then(|| {
            let (every, last) = (options.snapshot_every, snapshot_position);
            let (view, log) = (view.clone(), log.clone());
            let snapshots = self.snapshots.clone();
            tokio::spawn(snapshots.keep_writing(view, log, every, last))
        });
        self.guard.watch(snapshot_writer.as_ref());
        Ok(Folded {
            view,
            storage,
            follower,
            verifier,
            snapshot_writer,
            head,
        })
    }
}

impl Startup {
    /// Whether the key may vouch for the log: only for one that verified
    /// and was not found broken since.
    fn may_sign(verified: &AtomicBool, view: &View) -> bool {
        verified.load(Ordering::Relaxed) && view.failure().is_none()
    }

    /// Arms shutdown, says "serving", and serves gRPC until shutdown begins
    /// (a signal, or a storage failure); the server is then left draining.
    async fn serve<H: Health, S: Future<Output = ()> + Send>(
        &mut self,
        folded: &Folded,
        listener: TcpListener,
        shutdown: S,
        reporter: &tonic_health::server::HealthReporter,
        health_service: HealthServer<H>,
    ) -> anyhow::Result<Serving<impl Future<Output = Served> + Send + use<H, S>>> {
        let (log, view) = (&self.log, &folded.view);
        let local: SocketAddr = listener.local_addr()?;
        let shutdown = shutdown::armed(shutdown).await;
        let data_dir = self.options.data_dir.display();
        tracing::info!(%local, position = folded.head, %data_dir, "serving");
        let signer = self.options.signing_key.clone().map(|key| {
            let (verified, view) = (self.verified.clone(), view.clone());
            let may_sign = move || Self::may_sign(&verified, &view);
            let every = self.options.checkpoint_every;
            tokio::spawn(tamper::sign_periodically(log.clone(), key, every, may_sign))
        });
        self.guard.watch(signer.as_ref());
        // Live replays end when shutdown begins, or the server would wait for
        // them for ever.
        let (stopping, stopped) = watch::channel(false);
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
        let _gauges = {
            let view = view.clone();
            telemetry::metrics::projection_gauges(move || view.position(), log.clone())
        };
        let health_keeper = tokio::spawn(health::keep(
            reporter.clone(),
            view.clone(),
            stopped.clone(),
        ));
        let mut began = stopped.clone();
        let server = crate::router::serve(
            &self.options,
            &folded.view,
            &folded.storage,
            health_service,
            stopped,
            TcpIncoming::from(listener).with_nodelay(Some(true)),
            shutdown,
        )?;
        let mut server = Box::pin(server);
        let server = tokio::select! {
            served = &mut server => Ok(served),
            _ = began.wait_for(|stopping| *stopping) => Err(server),
        };
        Ok(Serving {
            server,
            signer,
            health_keeper,
            _gauges,
        })
    }

    /// Lets in-flight requests finish for at most [`DRAIN_GRACE`], then
    /// stops the background tasks and, with a key, signs a last checkpoint.
    async fn drain<F: Future<Output = Served>>(
        &mut self,
        serving: Serving<F>,
        folded: Folded,
        reporter: &tonic_health::server::HealthReporter,
    ) -> Served {
        let served = match serving.server {
            Ok(served) => served,
            Err(server) => match tokio::time::timeout(DRAIN_GRACE, server).await {
                Ok(served) => served,
                Err(_) => {
                    let grace = DRAIN_GRACE;
                    tracing::warn!(
                        grace_seconds = grace.as_secs(),
                        "requests still in flight after the shutdown grace period of {} s: \
                         stopping without waiting for them",
                        grace.as_secs()
                    );
                    Ok(())
                }
            },
        };
        // Decided before the follower is stopped, which marks the view failed.
        let sign_at_stop = Self::may_sign(&self.verified, &folded.view);
        serving.health_keeper.abort();
        health::set(reporter, tonic_health::ServingStatus::NotServing).await;
        // Wait for the follower to be gone so that, once `run` returns, nothing
        // holds the sled directory and it can be opened again at once.
        let tasks = [Some(folded.follower), folded.snapshot_writer];
        for task in tasks.into_iter().flatten() {
            task.abort();
            let _ = task.await;
        }
        // Verification reads the log on a blocking thread: stop it and wait,
        // so that nothing holds the directory after.
        self.stop_verifying.store(true, Ordering::Relaxed);
        if let Some(verifier) = folded.verifier {
            let _ = verifier.await;
        }
        if let (Some(signer), Some(key)) = (serving.signer, &self.options.signing_key) {
            signer.abort();
            let _ = signer.await;
            if sign_at_stop {
                tamper::sign(&self.log, key).await;
            }
        }
        served
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

impl StopOnDrop {
    /// Aborts `task`, if there is one, when the guard is dropped.
    fn watch(&mut self, task: Option<&JoinHandle<()>>) {
        self.tasks.extend(task.map(JoinHandle::abort_handle));
    }
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.tasks.iter().for_each(tokio::task::AbortHandle::abort);
    }
}

//! `consent-service`: runs the ICR consent service on a local sled directory.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{CommandFactory, Parser};
use consent_service::telemetry::Telemetry;
use consent_service::{
    DEFAULT_CHECKPOINT_EVERY, DEFAULT_PACK, DEFAULT_SNAPSHOT_EVERY, Limits, MutualTls, Options,
    PolicyFiles, config::with_config_file, load_signing_key, run_with_health_port, shutdown,
};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

/// mimalloc: with glibc's allocator, malloc and free took about a third of
/// the CPU of replaying the log (ARCHITECTURE.md, "Where the time goes").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The ICR consent and access-control service.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Configuration file (TOML): keys are these long flags with `_` for
    /// `-` (`max_in_flight = 512`). Flags and `ICR_*` variables override it.
    #[arg(long, env = "ICR_CONFIG")]
    config: Option<PathBuf>,
    /// Address to serve gRPC on.
    #[arg(long, env = "ICR_LISTEN", default_value = "127.0.0.1:50051")]
    listen: SocketAddr,
    /// Also serve `grpc.health.v1` here, in plain text and nothing else, for
    /// probes that do not speak TLS (the kubelet's gRPC probe).
    #[arg(long, env = "ICR_HEALTH_LISTEN")]
    health_listen: Option<SocketAddr>,
    /// Directory of the sled event log (created if missing).
    #[arg(long, env = "ICR_DATA_DIR", default_value = "data/consent-service")]
    data_dir: PathBuf,
    /// Directory with model.conf, rules.csv and pack folders; the built-in
    /// copies are used when not given.
    #[arg(long, env = "ICR_POLICIES_DIR")]
    policies_dir: Option<PathBuf>,
    /// Policy pack loaded into an empty log on first start: built in are
    /// coventry-warwickshire, bath-north-east-somerset, bsw, my-care-record.
    #[arg(long, env = "ICR_POLICY_PACK", default_value = DEFAULT_PACK)]
    policy_pack: String,
    /// The service's TLS certificate chain (PEM). With --tls-key,
    /// --tls-client-ca and --callers it turns on mutual TLS: every caller
    /// must present a certificate signed by the client CA, and may call
    /// only what the callers file grants its identity.
    #[arg(long, env = "ICR_TLS_CERT", requires_all = ["tls_key", "tls_client_ca", "callers"])]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, env = "ICR_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The CA certificate (PEM) that signs callers' client certificates.
    #[arg(long, env = "ICR_TLS_CLIENT_CA", requires = "tls_cert")]
    tls_client_ca: Option<PathBuf>,
    /// Callers file (TOML): `[[callers]]` entries of `identity` (the
    /// certificate's first DNS name, else its common name), `kind`
    /// (record_viewer, patient_facing, care_feed, policy_admin, auditor) and,
    /// for record viewers, `organisations` (ODS codes they may ask for).
    #[arg(long, env = "ICR_CALLERS", requires = "tls_cert")]
    callers: Option<PathBuf>,
    /// Serve plain-text gRPC on a non-loopback address. Only for isolated
    /// test networks: callers are not authenticated and traffic is not encrypted.
    #[arg(
        long,
        env = "ICR_INSECURE_PLAINTEXT_ON_NETWORK",
        conflicts_with = "tls_cert"
    )]
    insecure_plaintext_on_network: bool,
    /// Requests handled at once across all connections (a stream counts
    /// until it starts sending); more are refused with RESOURCE_EXHAUSTED.
    #[arg(long, env = "ICR_MAX_IN_FLIGHT", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    max_in_flight: u32,
    /// Requests per second each caller may make; more are refused with
    /// RESOURCE_EXHAUSTED. 0 sets no rate.
    #[arg(long, env = "ICR_RATE_PER_CALLER", default_value_t = 0)]
    rate_per_caller: u32,
    /// HTTP/2 streams each connection may have open.
    #[arg(long, env = "ICR_MAX_CONCURRENT_STREAMS", default_value_t = Limits::default().max_concurrent_streams, value_parser = clap::value_parser!(u32).range(1..))]
    max_concurrent_streams: u32,
    /// Largest request message accepted, in bytes.
    #[arg(long, env = "ICR_MAX_MESSAGE_BYTES", default_value_t = 1024 * 1024, value_parser = clap::value_parser!(u32).range(1024..))]
    max_message_bytes: u32,
    /// Longest any request may take, in seconds, whatever deadline the
    /// client gave.
    #[arg(long, env = "ICR_REQUEST_TIMEOUT_SECS", default_value_t = Limits::default().request_timeout.as_secs(), value_parser = clap::value_parser!(u64).range(1..))]
    request_timeout_secs: u64,
    /// ed25519 private key (PKCS#8 PEM) that signs checkpoints of the hash
    /// chains; make one with `consent-cli audit keygen`. On a directory
    /// that has checkpoints it must be the key that signed them. Without it
    /// the chains are kept but nothing is signed.
    #[arg(long, env = "ICR_SIGNING_KEY")]
    signing_key: Option<PathBuf>,
    /// Seconds between checkpoints while the log grows.
    #[arg(long, env = "ICR_CHECKPOINT_EVERY_SECS", default_value_t = DEFAULT_CHECKPOINT_EVERY.as_secs(), value_parser = clap::value_parser!(u64).range(1..))]
    checkpoint_every_secs: u64,
    /// Events folded between snapshots of the projections (kept under
    /// `snapshots/` in the data directory; a restart replays only the log
    /// after the newest). 0 writes none.
    #[arg(long, env = "ICR_SNAPSHOT_EVERY_EVENTS", default_value_t = DEFAULT_SNAPSHOT_EVERY)]
    snapshot_every_events: u64,
    /// Log lines as `text` for people or `json` (one object per line) for
    /// log collectors; the level filter is `RUST_LOG` (default `info`).
    #[arg(long, env = "ICR_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    /// Human-readable text.
    Text,
    /// One JSON object per line.
    Json,
}

/// Runs the service; a failure to start is printed as one plain message
/// (`error: what: why: cause`) and exits 1. Returning the error from `main`
/// would print it with `Debug`, which adds a backtrace whenever
/// `RUST_BACKTRACE` is set: thirty frames of the runtime in front of a
/// configuration typo.
fn main() -> std::process::ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: starting the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Reads the configuration, sets up logging and serves until shut down.
async fn serve() -> anyhow::Result<()> {
    let argv = with_config_file(&Args::command(), std::env::args_os().collect())?;
    let args = Args::parse_from(argv);
    // Before the log opens: its instruments come from the global provider.
    let telemetry = Telemetry::from_env();
    let filter = EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    // RUST_LOG filters log lines only; exported spans have their own filter.
    let lines = match args.log_format {
        LogFormat::Text => tracing_subscriber::fmt::layer().boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer().json().boxed(),
    };
    tracing_subscriber::registry()
        .with(lines.with_filter(filter))
        .with(telemetry.layer())
        .init();
    for problem in telemetry.problems() {
        tracing::error!(%problem, "OpenTelemetry setting not honoured");
    }
    if telemetry.is_exporting() {
        tracing::info!("OpenTelemetry export on (OTLP over gRPC)");
    }
    // Paths only: no key material is ever in the arguments.
    tracing::info!(config = ?args, "effective configuration");
    let tls = match (
        &args.tls_cert,
        &args.tls_key,
        &args.tls_client_ca,
        &args.callers,
    ) {
        (Some(cert), Some(key), Some(ca), Some(callers)) => {
            let tls = MutualTls::from_files(cert, key, ca, callers)?;
            tracing::info!(callers = tls.callers.len(), "mutual TLS on");
            Some(tls)
        }
        _ => None,
    };
    if tls.is_none() && !args.listen.ip().is_loopback() && !args.insecure_plaintext_on_network {
        bail!(
            "refusing to serve plain-text gRPC on {}: turn on mutual TLS (--tls-cert, \
             --tls-key, --tls-client-ca, --callers), use a loopback address, or pass \
             --insecure-plaintext-on-network on an isolated test network",
            args.listen
        );
    }
    if tls.is_none() {
        tracing::warn!("plain text: callers are not authenticated and may call every RPC");
    }
    let limits = Limits {
        max_in_flight: args.max_in_flight as usize,
        per_caller_per_second: std::num::NonZeroU32::new(args.rate_per_caller),
        max_concurrent_streams: args.max_concurrent_streams,
        max_message_bytes: args.max_message_bytes as usize,
        request_timeout: std::time::Duration::from_secs(args.request_timeout_secs),
    };
    let policy = match &args.policies_dir {
        Some(dir) => PolicyFiles::from_dir(dir, &args.policy_pack)?,
        None => match PolicyFiles::built_in_pack(&args.policy_pack) {
            Some(files) => files,
            None => bail!(
                "policy pack {} is not built in (built in: {}); pass --policies-dir",
                args.policy_pack,
                PolicyFiles::built_in_pack_names()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
    };
    let signing_key = args
        .signing_key
        .as_deref()
        .map(load_signing_key)
        .transpose()?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let health_port = match args.health_listen {
        Some(address) => Some(
            tokio::net::TcpListener::bind(address)
                .await
                .with_context(|| format!("binding the health port {address}"))?,
        ),
        None => None,
    };
    let served = run_with_health_port(
        listener,
        health_port,
        Options {
            signing_key,
            checkpoint_every: std::time::Duration::from_secs(args.checkpoint_every_secs),
            snapshot_every: args.snapshot_every_events,
            tls,
            limits,
            ..Options::new(args.data_dir, policy)
        },
        shutdown::signal(),
    )
    .await;
    // Spans and metrics up to the last request go out before the exit.
    telemetry.shutdown().await;
    served
}

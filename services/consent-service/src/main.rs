//! `consent-service`: runs the ICR consent service on a local sled directory.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Parser;
use consent_service::{
    DEFAULT_CHECKPOINT_EVERY, DEFAULT_PACK, DEFAULT_SNAPSHOT_EVERY, Options, PolicyFiles,
    load_signing_key, run, shutdown,
};
use tracing_subscriber::EnvFilter;

/// mimalloc: with glibc's allocator, malloc and free took about a third of
/// the CPU of replaying the log (ARCHITECTURE.md, "Where the time goes").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The ICR consent and access-control service.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to serve gRPC on.
    #[arg(long, env = "ICR_LISTEN", default_value = "127.0.0.1:50051")]
    listen: SocketAddr,
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
    /// Serve plain-text gRPC on a non-loopback address. Only for isolated
    /// test networks: callers are not authenticated and traffic is not encrypted.
    #[arg(long, env = "ICR_INSECURE_PLAINTEXT_ON_NETWORK")]
    insecure_plaintext_on_network: bool,
    /// ed25519 private key (PKCS#8 PEM) that signs checkpoints of the hash
    /// chains; make one with `consent-cli audit keygen`. Without it the
    /// chains are kept but nothing is signed.
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
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let filter = EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).init();
    let args = Args::parse();
    if !args.listen.ip().is_loopback() && !args.insecure_plaintext_on_network {
        bail!(
            "refusing to serve plain-text gRPC on {}: use a loopback address, or pass \
             --insecure-plaintext-on-network on an isolated test network",
            args.listen
        );
    }
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
    run(
        listener,
        Options {
            data_dir: args.data_dir,
            policy,
            signing_key,
            checkpoint_every: std::time::Duration::from_secs(args.checkpoint_every_secs),
            snapshot_every: args.snapshot_every_events,
            faults: Default::default(),
        },
        shutdown::signal(),
    )
    .await
}

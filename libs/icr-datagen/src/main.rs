//! `icr-datagen`: writes a generated consent log into a sled directory that
//! `consent-service --data-dir` then serves.

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use icr_datagen::{Population, Profile};
use icr_log::SledLog;

/// mimalloc, as the service uses: generating large logs allocates heavily.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Generates a realistic consent log for benchmarks.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Directory of the sled log to write (created if missing).
    #[arg(long)]
    data_dir: PathBuf,
    /// Number of patients.
    #[arg(long, default_value_t = 1000)]
    patients: u32,
    /// Built-in policy pack whose organisations patients are placed at.
    #[arg(long, default_value = icr_packs::DEFAULT_PACK)]
    pack: String,
    /// Hospital of every patient's first care relationship.
    #[arg(long, default_value = "RKB")]
    hospital: String,
    /// Seed of the pseudo-random choices.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Appends sharing one flush.
    #[arg(long, default_value_t = 10_000)]
    batch: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let population = Population::new(Profile {
        patients: args.patients,
        pack: args.pack,
        hospital: args.hospital,
        seed: args.seed,
        ..Profile::default()
    })?;
    let log = SledLog::open(&args.data_dir)?;
    let started = Instant::now();
    let last = population.write(&log, args.batch).await?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "wrote {last} events for {} patients to {} in {seconds:.1} s ({:.0} events/s)",
        args.patients,
        args.data_dir.display(),
        last as f64 / seconds
    );
    Ok(())
}

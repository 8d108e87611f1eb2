//! Projection snapshots at a given log length: loading one (read the file,
//! check every digest, decode on every core) against folding the same
//! events, which is what a start without a snapshot must at least do.
//!
//! - `snapshot/load/<events>`: read and decode a snapshot file (page cache
//!   warm), as the service does at start.
//! - `snapshot/write/<events>`: encode one (the file write and fsync are
//!   not included: they depend on the disk).
//! - The fold of the same events is timed once, before the measurements,
//!   and printed with the snapshot's size (`setup` lines on stderr).
//!
//! ```text
//! cargo bench -p icr-datagen --bench snapshot
//! ICR_BENCH_SNAPSHOT_EVENTS=10000000 cargo bench -p icr-datagen --bench snapshot
//! ```

// Each benchmark binary uses part of the shared module.
#[allow(dead_code)]
mod common;

use std::hint::black_box;
use std::time::Duration;

use common::measure;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use icr_datagen::{Population, Profile};
use icr_projections::Projections;

/// The allocator the service runs with, so that figures are the service's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Events in the log snapshotted, by default.
const DEFAULT_EVENTS: u32 = 1_000_000;

fn snapshot(c: &mut Criterion) {
    let events = common::env_u32("ICR_BENCH_SNAPSHOT_EVENTS").unwrap_or(DEFAULT_EVENTS);
    // Fewer than two events per generated patient: enough patients that the
    // log reaches `events`.
    let population = Population::new(Profile {
        patients: events / 2 + 1_000,
        ..Profile::default()
    })
    .expect("the default pack generates");
    let recorded: Vec<_> = population.recorded().take(events as usize).collect();
    assert_eq!(
        recorded.len(),
        events as usize,
        "the population is too small"
    );
    let (projections, fold) = measure(|| {
        let mut projections = Projections::default();
        for event in &recorded {
            projections.apply(event).expect("generated in order");
        }
        projections
    });
    drop(recorded);
    let bytes = projections.encode_snapshot(&[0; 32], |_| Vec::new());
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("projections.snap");
    std::fs::write(&path, &bytes).expect("write the snapshot");
    eprintln!(
        "setup fold/{events}: {fold}; {} patients; snapshot {} MiB",
        projections.patient_count(),
        bytes.len() / (1024 * 1024)
    );

    let mut group = c.benchmark_group("snapshot");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(u64::from(events)));
    // Freeing what was loaded is not part of loading it.
    group.bench_function(BenchmarkId::new("load", events), |b| {
        b.iter_with_large_drop(|| {
            let bytes = std::fs::read(&path).expect("read");
            let loaded = Projections::decode_snapshot(&bytes, |_, _| Ok(())).expect("reads");
            black_box(loaded)
        })
    });
    group.bench_function(BenchmarkId::new("write", events), |b| {
        b.iter(|| black_box(projections.encode_snapshot(&[0; 32], |_| Vec::new())))
    });
    group.finish();
}

criterion_group!(benches, snapshot);
criterion_main!(benches);

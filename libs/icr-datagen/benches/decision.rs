//! Our decision path at 1,000, 100,000 and 1,000,000 patients (or up to
//! `ICR_BENCH_MAX_PATIENTS`), as `Authorize` and `AuthorizeBatch` run it in
//! process: the request's facts from the projections, then the casbin engine.
//!
//! - `ours/one/<N>`: one decision about a patient drawn at random among N
//!   (the request mix of `common::asks`: mostly allowed, some denied for an
//!   objection, a child, another organisation, a role, an unknown patient).
//! - `ours/batch20/<N>`: 20 sections for one patient, facts once.
//!
//! The patient count is the parameter, so the report shows whether the cost
//! stays flat as the population grows. Setup time and memory per N are
//! printed before the measurements. Peers: `benches/peers.rs`.
//!
//! ```text
//! cargo bench -p icr-datagen --bench decision
//! ICR_BENCH_MAX_PATIENTS=10000000 cargo bench -p icr-datagen --bench decision
//! ```

// Each benchmark binary uses part of the shared module.
#[allow(dead_code)]
mod common;

use std::hint::black_box;

use common::{Cycle, World, asks, batch_sections, measure, sizes};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// The allocator the service runs with, so that figures are the service's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Questions per population; the benchmark cycles through them.
const ASKS: usize = 4096;

/// Builds every population, then measures one decision and a batch at each.
fn decision(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a tokio runtime");
    let worlds: Vec<World> = sizes()
        .into_iter()
        .map(|n| {
            let (world, cost) = measure(|| World::build(n, &runtime));
            eprintln!("setup ours/{n}: {cost}");
            world
        })
        .collect();
    let sections = batch_sections();

    let mut group = c.benchmark_group("ours");
    group.throughput(Throughput::Elements(1));
    for world in &worlds {
        let questions = asks(world.patients, ASKS, 7);
        let mut cycle = Cycle::new(&questions);
        group.bench_with_input(
            BenchmarkId::new("one", world.patients),
            world,
            |b, world| b.iter(|| black_box(world.decide(black_box(cycle.next_item())))),
        );
    }
    group.throughput(Throughput::Elements(sections.len() as u64));
    for world in &worlds {
        let questions = asks(world.patients, ASKS, 8);
        let mut cycle = Cycle::new(&questions);
        group.bench_with_input(
            BenchmarkId::new("batch20", world.patients),
            world,
            |b, world| {
                b.iter(|| {
                    let ask = black_box(cycle.next_item());
                    black_box(world.decide_sections(ask, &sections))
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, decision);
criterion_main!(benches);

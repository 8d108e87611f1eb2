//! Our decision engine and its peers, measured side by side in one run on
//! the same questions (the mix of `common::asks`) at 1,000, 100,000 and
//! 1,000,000 patients (or up to `ICR_BENCH_MAX_PATIENTS`):
//!
//! - `ours`: facts from the projections, then our casbin engine.
//! - `cedar`: the same decisions as Cedar policies (`benches/cedar/`), the
//!   request's entities built per request from the same projections.
//! - `cedar_store`: Cedar with every patient loaded once into one store.
//! - `casbin_naive`: casbin with one policy line per patient fact, up to
//!   `ICR_BENCH_NAIVE_MAX_PATIENTS` (default 1,000,000).
//!
//! Groups `decision/<peer>/<N>` (one section) and `batch20/<peer>/<N>` (20
//! sections for one patient; the naive casbin batch only up to
//! `ICR_BENCH_NAIVE_BATCH_MAX_PATIENTS`, default 100,000, as it costs 20 of
//! its slow decisions). Before timing, every peer's answers are checked
//! against ours (outcome, and Cedar's reasons) and the run stops on the
//! first difference. Setup time and memory per peer and N are printed
//! first and again at the end.
//!
//! ```text
//! cargo bench -p icr-datagen --bench peers
//! ```

// Each benchmark binary uses part of the shared module.
#[path = "peers/agreement.rs"]
mod agreement;
#[path = "peers/casbin_naive.rs"]
mod casbin_naive;
#[path = "peers/cedar.rs"]
mod cedar;
#[allow(dead_code)]
mod common;

use std::hint::black_box;
use std::time::Duration;

use casbin_naive::NaiveCasbin;
use cedar::{CedarPeer, CedarStore};
use common::{Cycle, World, asks, batch_sections, env_u32, measure, sizes};
use criterion::{
    BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group,
    criterion_main, measurement::WallTime,
};
use icr_proto::pb::RecordSection;

/// The allocator the service runs with, so that figures are the service's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Questions per population; the benchmarks cycle through them.
const ASKS: usize = 4096;

/// A population with every peer built for it.
struct Contenders {
    world: World,
    cedar: CedarPeer,
    cedar_store: CedarStore,
    naive: Option<NaiveCasbin>,
    /// Questions for single decisions and for batches.
    singles: Vec<common::Ask>,
    batches: Vec<common::Ask>,
}

/// Builds the population and every peer for it, printing what each cost.
fn build(n: u32, naive_max: u32, report: &mut Vec<String>) -> Contenders {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a tokio runtime");
    let mut note = |what: &str, cost: common::Cost| {
        let line = format!("setup {what}/{n}: {cost}");
        eprintln!("{line}");
        report.push(line);
    };
    let (world, cost) = measure(|| World::build(n, &runtime));
    note("ours (population folded into projections, engine)", cost);
    let singles = asks(n, ASKS, 7);
    let batches = asks(n, ASKS, 8);
    let (cedar, cost) = measure(|| CedarPeer::new(&world.projections));
    note("cedar (policies, organisations, regions)", cost);
    let (cedar_store, cost) =
        measure(|| CedarStore::load(&cedar, &world, &singles, &agreement::ROLES));
    note("cedar_store (every patient in one Entities)", cost);
    let naive = (n <= naive_max).then(|| {
        let (naive, cost) = measure(|| runtime.block_on(NaiveCasbin::load(&world)));
        note(
            &format!("casbin_naive ({} patient lines)", naive.lines),
            cost,
        );
        naive
    });
    Contenders {
        world,
        cedar,
        cedar_store,
        naive,
        singles,
        batches,
    }
}

/// Times `decide` over the questions, one question per iteration. Slow
/// peers (`slow`) get the fewest samples criterion allows, one iteration
/// each at least.
fn time(
    group: &mut BenchmarkGroup<'_, WallTime>,
    peer: &str,
    n: u32,
    asks: &[common::Ask],
    slow: bool,
    mut decide: impl FnMut(&common::Ask) -> usize,
) {
    if slow {
        group.sampling_mode(SamplingMode::Flat).sample_size(10);
    } else {
        group.sampling_mode(SamplingMode::Auto).sample_size(100);
    }
    let mut cycle = Cycle::new(asks);
    group.bench_function(BenchmarkId::new(peer, n), |b| {
        b.iter(|| black_box(decide(black_box(cycle.next_item()))))
    });
}

/// Measures one section per question, then batches of 20, for every peer.
fn peers(c: &mut Criterion) {
    let naive_max = env_u32("ICR_BENCH_NAIVE_MAX_PATIENTS").unwrap_or(1_000_000);
    let naive_batch_max = env_u32("ICR_BENCH_NAIVE_BATCH_MAX_PATIENTS").unwrap_or(100_000);
    let mut report = Vec::new();
    let all: Vec<Contenders> = sizes()
        .into_iter()
        .map(|n| {
            let contenders = build(n, naive_max, &mut report);
            let line = agreement::check(&contenders);
            eprintln!("{line}");
            report.push(line);
            contenders
        })
        .collect();
    let sections = batch_sections();

    let mut group = c.benchmark_group("decision");
    group.throughput(Throughput::Elements(1));
    for k in &all {
        let (n, w) = (k.world.patients, &k.world);
        let one = |ask: &common::Ask| -> [RecordSection; 1] { [ask.section] };
        time(&mut group, "ours", n, &k.singles, false, |a| {
            usize::from(w.decide(a).allowed)
        });
        time(&mut group, "cedar", n, &k.singles, false, |a| {
            k.cedar.decide(w, a, &one(a))
        });
        time(&mut group, "cedar_store", n, &k.singles, false, |a| {
            k.cedar_store.decide(&k.cedar, a, &one(a))
        });
        if let Some(naive) = &k.naive {
            let slow = naive.lines > 10_000;
            time(&mut group, "casbin_naive", n, &k.singles, slow, |a| {
                naive.decide(a, &one(a))
            });
        }
    }
    group.finish();

    let mut group = c.benchmark_group("batch20");
    group.throughput(Throughput::Elements(sections.len() as u64));
    for k in &all {
        let (n, w, s) = (k.world.patients, &k.world, sections.as_slice());
        time(&mut group, "ours", n, &k.batches, false, |a| {
            w.decide_sections(a, s).iter().filter(|v| v.allowed).count()
        });
        time(&mut group, "cedar", n, &k.batches, false, |a| {
            k.cedar.decide(w, a, s)
        });
        time(&mut group, "cedar_store", n, &k.batches, false, |a| {
            k.cedar_store.decide(&k.cedar, a, s)
        });
        if let Some(naive) = k.naive.as_ref().filter(|_| n <= naive_batch_max) {
            time(&mut group, "casbin_naive", n, &k.batches, true, |a| {
                naive.decide(a, s)
            });
        }
    }
    group.finish();

    eprintln!("\nsetup and agreement:");
    for line in &report {
        eprintln!("  {line}");
    }
}

criterion_group! {
    name = benches;
    // Shorter than criterion's defaults: there are many contenders, and
    // decisions are short enough for thousands of samples in this time.
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(4));
    targets = peers
}
criterion_main!(benches);

//! The log's write and read paths, in process:
//! - `append/one_client`: one objection-sized event appended and flushed at
//!   a time (the latency a single writer sees: about one flush);
//! - `append/64_clients`: 64 concurrent appenders, each appending in a
//!   closed loop and sharing flushes (group commit); throughput is events
//!   per second;
//! - `append/64_clients_decisions`: the same for decision audit records
//!   (what every Authorize waits for);
//! - `replay/read_from`: reading 10,000 durable events in pages of 512, as
//!   the projection follower and `ReadEvents` do;
//! - `acknowledged_record/*`: what recording the acknowledged heads costs
//!   (one more small write and `fdatasync` per flush): `one_client` and
//!   `64_clients` again, on a log that keeps the record (`with`) and one
//!   that does not (`without`), in the same run.
//!
//! Run with `cargo bench -p icr-log --bench append`.

use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use icr_log::{AppendRequest, DecisionAudit, EventLog, ExpectedVersion, PendingEvent, SledLog};
use icr_proto::pb::event_payload::Kind;
use icr_proto::pb::{Actor, DecisionRecord, EventPayload, ObjectionRecorded};

/// The allocator the service runs with, so that figures are the service's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

static NEXT: AtomicU64 = AtomicU64::new(0);

/// Concurrent appenders in `append/64_clients`.
const CLIENTS: u64 = 64;
/// Appends each of them makes in turn per iteration: a closed loop long
/// enough that most flushes find every writer waiting, not a burst whose
/// first flush carries one write.
const APPENDS_EACH: u64 = 16;

fn objection() -> AppendRequest {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    AppendRequest {
        stream: format!("patient/{}", n % 10_000),
        expected_version: ExpectedVersion::Any,
        request_id: format!("bench-{n}"),
        fingerprint: vec![0; 32],
        events: vec![PendingEvent {
            actor: Actor {
                calling_system: "patient-portal".into(),
                user_id: "pals-officer".into(),
                on_behalf_of: String::new(),
            },
            event_type: "ObjectionRecorded".into(),
            schema_version: 1,
            payload: EventPayload {
                kind: Some(Kind::ObjectionRecorded(ObjectionRecorded {
                    nhs_number: "9434765919".into(),
                    scope: 1,
                    attorney_id: String::new(),
                })),
            },
        }],
    }
}

/// An Authorize answer's audit record, about the size the service writes.
fn decision() -> DecisionRecord {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    DecisionRecord {
        decision_id: ulid::Ulid::new().to_string(),
        nhs_number: format!("94347{:05}", n % 100_000),
        user_id: "dr-jones".into(),
        role_code: "R8000".into(),
        organisation_ods: "RKB".into(),
        calling_system: "record-viewer".into(),
        section: 2,
        purpose: 1,
        allowed: true,
        evaluated_at: Some(icr_proto::Timestamp::default()),
        reason: "registered GP practice in a participating region".into(),
        log_position: n,
        ..Default::default()
    }
}

fn append(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let log = SledLog::open(dir.path()).expect("open");
    let mut group = c.benchmark_group("append");
    group.throughput(Throughput::Elements(1));
    group.bench_function("one_client", |b| {
        b.to_async(&runtime)
            .iter(|| async { log.append(objection()).await.expect("append") })
    });
    group.throughput(Throughput::Elements(CLIENTS * APPENDS_EACH));
    group.bench_function("64_clients", |b| {
        b.to_async(&runtime).iter(|| async {
            let writers = (0..CLIENTS).map(|_| {
                let log = log.clone();
                tokio::spawn(async move {
                    for _ in 0..APPENDS_EACH {
                        log.append(objection()).await.expect("append");
                    }
                })
            });
            for writer in writers.collect::<Vec<_>>() {
                writer.await.expect("join");
            }
        })
    });
    group.bench_function("64_clients_decisions", |b| {
        b.to_async(&runtime).iter(|| async {
            let writers = (0..CLIENTS).map(|_| {
                let log = log.clone();
                tokio::spawn(async move {
                    for _ in 0..APPENDS_EACH {
                        log.record(vec![decision()]).await.expect("record");
                    }
                })
            });
            for writer in writers.collect::<Vec<_>>() {
                writer.await.expect("join");
            }
        })
    });
    group.finish();

    let mut group = c.benchmark_group("replay");
    let events = 10_000;
    runtime.block_on(async {
        let head = log.head();
        log.import((head..events).map(|_| objection()))
            .await
            .expect("fill");
    });
    group.throughput(Throughput::Elements(events));
    group.bench_function("read_from", |b| {
        b.to_async(&runtime).iter(|| async {
            let mut next = 1;
            while next <= events {
                let page = log.read_from(next, 512).await.expect("read");
                next = page.last().map_or(events + 1, |e| e.position + 1);
            }
        })
    });
    group.finish();
}

/// The same appends with and without the record of acknowledged heads.
fn acknowledged_record(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let with_dir = tempfile::tempdir().expect("tempdir");
    let without_dir = tempfile::tempdir().expect("tempdir");
    let with = SledLog::open(with_dir.path()).expect("open");
    let without = SledLog::open_without_acknowledged_record(without_dir.path()).expect("open");
    let mut group = c.benchmark_group("acknowledged_record");
    for (name, log) in [("with", &with), ("without", &without)] {
        group.throughput(Throughput::Elements(1));
        group.bench_function(BenchmarkId::new("one_client", name), |b| {
            b.to_async(&runtime)
                .iter(|| async { log.append(objection()).await.expect("append") })
        });
    }
    for (name, log) in [("with", &with), ("without", &without)] {
        group.throughput(Throughput::Elements(CLIENTS * APPENDS_EACH));
        group.bench_function(BenchmarkId::new("64_clients", name), |b| {
            b.to_async(&runtime).iter(|| async {
                let writers = (0..CLIENTS).map(|_| {
                    let log = log.clone();
                    tokio::spawn(async move {
                        for _ in 0..APPENDS_EACH {
                            log.append(objection()).await.expect("append");
                        }
                    })
                });
                for writer in writers.collect::<Vec<_>>() {
                    writer.await.expect("join");
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, append, acknowledged_record);
criterion_main!(benches);

//! How fast the whole-log check runs (the service runs it before serving):
//! 10,000 events and 100,000 decision records with a checkpoint, verified
//! end to end (both chains, the checkpoint and every index).
//!
//! Run with `cargo bench -p icr-log --bench verify`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use icr_log::ed25519_dalek::SigningKey;
use icr_log::{
    AppendRequest, DecisionAudit, EventLog, ExpectedVersion, PendingEvent, SledLog, TamperEvidence,
};
use icr_proto::pb::event_payload::Kind;
use icr_proto::pb::{Actor, DecisionRecord, EventPayload, ObjectionRecorded};

/// The allocator the service runs with, so that figures are the service's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const EVENTS: u64 = 10_000;
const DECISIONS: u64 = 100_000;

async fn fill(log: &SledLog) {
    for batch in 0..EVENTS / 100 {
        let events = (0..100)
            .map(|_| PendingEvent {
                actor: Actor::default(),
                event_type: "ObjectionRecorded".into(),
                schema_version: 1,
                payload: EventPayload {
                    kind: Some(Kind::ObjectionRecorded(ObjectionRecorded {
                        nhs_number: "9434765919".into(),
                        ..Default::default()
                    })),
                },
            })
            .collect();
        let request = AppendRequest {
            stream: format!("patient/{batch}"),
            expected_version: ExpectedVersion::Any,
            request_id: format!("bench-{batch}"),
            fingerprint: Vec::new(),
            events,
        };
        log.append(request).await.expect("append");
    }
    for batch in 0..DECISIONS / 1000 {
        let records = (0..1000)
            .map(|i| DecisionRecord {
                decision_id: format!("{batch}-{i}"),
                nhs_number: "9434765919".into(),
                role_code: "R8000".into(),
                organisation_ods: "RKB".into(),
                allowed: true,
                reason: "role_permits_section".into(),
                log_position: EVENTS,
                ..Default::default()
            })
            .collect();
        log.record(records).await.expect("record");
    }
}

fn verify(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let log = SledLog::open(dir.path()).expect("open");
    let key = SigningKey::from_bytes(&[1; 32]);
    runtime.block_on(async {
        fill(&log).await;
        log.checkpoint(&key).await.expect("checkpoint");
    });
    let public = key.verifying_key();
    let mut group = c.benchmark_group("verify");
    group.sample_size(10);
    group.throughput(Throughput::Elements(EVENTS + DECISIONS));
    group.bench_function("10k_events_100k_decisions", |b| {
        b.iter(|| {
            let verified = log.verify(Some(&public)).expect("read").expect("verifies");
            assert_eq!(verified.decisions, DECISIONS);
        })
    });
    group.finish();
}

criterion_group!(benches, verify);
criterion_main!(benches);

//! What the durable decision audit adds to Authorize.
//!
//! Three measurements in one run, on one in-process service over loopback:
//! - `get_consent_status`: a read RPC over the same projections, with no
//!   audit record: the transport-and-read baseline;
//! - `authorize`: the full Authorize path, whose answer waits for its audit
//!   record to be flushed;
//! - `record_one`: one decision record appended and flushed straight to
//!   the log, no gRPC: the flush the audit costs.
//!
//! Run with `cargo bench -p consent-service --bench audit_cost`; compare the
//! medians as ratios (the machine is shared and noisy).

use std::time::Duration;

use consent_service::{Options, PolicyFiles};
use criterion::{Criterion, criterion_group, criterion_main};
use icr_log::{DecisionAudit, SledLog};
use icr_proto::pb::access_decision_service_client::AccessDecisionServiceClient;
use icr_proto::pb::care_context_service_client::CareContextServiceClient;
use icr_proto::pb::consent_service_client::ConsentServiceClient;
use icr_proto::pb::{
    AuthorizeRequest, CareRelationshipKind, DecisionRecord, GetConsentStatusRequest, Purpose,
    RecordSection, RegisterPatientRequest, Requester, StartCareRelationshipRequest,
};
use tonic::transport::Channel;

/// The allocator the service runs with, so that figures are the service's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PATIENT: &str = "9434765919";

/// Starts the service on a temporary directory and admits one patient.
async fn service(dir: &std::path::Path) -> Channel {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    let options = Options::new(dir, PolicyFiles::built_in());
    tokio::spawn(consent_service::run(
        listener,
        options,
        std::future::pending(),
    ));
    let channel = loop {
        match Channel::from_shared(endpoint.clone())
            .expect("uri")
            .connect()
            .await
        {
            Ok(channel) => break channel,
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    let mut care = CareContextServiceClient::new(channel.clone());
    care.register_patient(RegisterPatientRequest {
        request_id: "bench-register".into(),
        nhs_number: PATIENT.into(),
        gp_practice_ods: "M86003".into(),
        date_of_birth: "1970-01-01".into(),
        user_id: "bench".into(),
        expected_stream_version: None,
    })
    .await
    .expect("register");
    care.start_care_relationship(StartCareRelationshipRequest {
        request_id: "bench-relationship".into(),
        nhs_number: PATIENT.into(),
        relationship_id: "ep-1".into(),
        organisation_ods: "RKB".into(),
        kind: CareRelationshipKind::InpatientEpisode.into(),
        user_id: "bench".into(),
        expected_stream_version: None,
    })
    .await
    .expect("relationship");
    channel
}

fn audit_cost(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let channel = runtime.block_on(service(dir.path()));
    let mut group = c.benchmark_group("audit_cost");
    group.measurement_time(Duration::from_secs(8));

    let status = ConsentServiceClient::new(channel.clone());
    group.bench_function("get_consent_status", |b| {
        b.to_async(&runtime).iter(|| {
            let mut client = status.clone();
            async move {
                let request = GetConsentStatusRequest {
                    nhs_number: PATIENT.into(),
                    min_log_position: 0,
                };
                client.get_consent_status(request).await.expect("status")
            }
        })
    });

    let decisions = AccessDecisionServiceClient::new(channel);
    group.bench_function("authorize", |b| {
        b.to_async(&runtime).iter(|| {
            let mut client = decisions.clone();
            async move {
                let request = AuthorizeRequest {
                    nhs_number: PATIENT.into(),
                    requester: Some(Requester {
                        user_id: "dr-bench".into(),
                        role_code: "R8000".into(),
                        organisation_ods: "RKB".into(),
                    }),
                    section: RecordSection::Medications.into(),
                    purpose: Purpose::DirectCare.into(),
                    ..Default::default()
                };
                client.authorize(request).await.expect("authorize")
            }
        })
    });

    let log_dir = tempfile::tempdir().expect("tempdir");
    let log = SledLog::open(log_dir.path()).expect("open");
    group.bench_function("record_one", |b| {
        b.to_async(&runtime).iter(|| {
            let log = log.clone();
            async move {
                let record = DecisionRecord {
                    decision_id: ulid::Ulid::new().to_string(),
                    nhs_number: PATIENT.into(),
                    ..Default::default()
                };
                log.record(vec![record]).await.expect("record")
            }
        })
    });
    group.finish();
}

criterion_group!(benches, audit_cost);
criterion_main!(benches);

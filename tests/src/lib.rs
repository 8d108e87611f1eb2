//! Shared fixtures for the integration tests: a real server on
//! `127.0.0.1:0` over a temporary sled directory, and typed clients;
//! [`in_process`] starts one per policy scenario; [`nats_cluster`] starts a
//! three-node NATS JetStream cluster of real `nats-server` processes.

pub mod in_process;
pub mod nats_cluster;
pub mod pki;

use std::path::Path;

use consent_service::{CALLING_SYSTEM_HEADER, Options, PolicyFiles, SigningKey};
use icr_proto::pb::access_decision_service_client::AccessDecisionServiceClient;
use icr_proto::pb::audit_service_client::AuditServiceClient;
use icr_proto::pb::care_context_service_client::CareContextServiceClient;
use icr_proto::pb::consent_service_client::ConsentServiceClient;
use icr_proto::pb::policy_admin_service_client::PolicyAdminServiceClient;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use icr_proto::pb::submitter::Who;
use icr_proto::pb::{
    AuthorizeRequest, CareRelationshipKind, ConsentModel, Decision, ObjectionScope, Outcome,
    Purpose, ReadEventsRequest, RecordObjectionRequest, RecordSection, RecordedEvent,
    RegisterPatientRequest, Requester, SetRegionPolicyRequest, StartCareRelationshipRequest,
    Submitter, WriteResult,
};

/// A patient registered at a C&W practice in the tests (valid check digit).
pub const PATIENT: &str = "9434765919";
/// A second valid NHS number.
pub const OTHER_PATIENT: &str = "9434765870";
/// A Coventry GP practice in the default pack.
pub const PRACTICE: &str = "M86003";
/// University Hospitals Coventry and Warwickshire NHS Trust.
pub const HOSPITAL: &str = "RKB";

/// Adds the calling-system header to every call.
#[derive(Clone)]
pub struct CallingSystem(pub &'static str);

impl tonic::service::Interceptor for CallingSystem {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        let value = tonic::metadata::MetadataValue::from_static(self.0);
        request.metadata_mut().insert(CALLING_SYSTEM_HEADER, value);
        Ok(request)
    }
}

type Intercepted = InterceptedService<Channel, CallingSystem>;

/// A running server and clients connected to it.
pub struct Server {
    /// Where it listens.
    pub endpoint: String,
    /// Record viewers' client.
    pub decisions: AccessDecisionServiceClient<Intercepted>,
    /// Patient-facing services' client.
    pub consent: ConsentServiceClient<Intercepted>,
    /// Care feeds' client.
    pub care: CareContextServiceClient<Intercepted>,
    /// Policy administrators' client.
    pub policy: PolicyAdminServiceClient<Intercepted>,
    /// Auditors' client.
    pub audit: AuditServiceClient<Intercepted>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), String>>>,
}

impl Server {
    /// Starts the service on `127.0.0.1:0` over `data_dir` with the built-in
    /// policy files, and connects the clients.
    pub async fn start(data_dir: &Path) -> Self {
        Self::start_with(data_dir, PolicyFiles::built_in()).await
    }

    /// Starts the service with the given policy files.
    pub async fn start_with(data_dir: &Path, policy: PolicyFiles) -> Self {
        Self::start_options(Options::new(data_dir, policy)).await
    }

    /// Starts the service signing checkpoints with `key` (every 100 ms, and
    /// once more when it stops).
    pub async fn start_signed(data_dir: &Path, key: SigningKey) -> Self {
        let mut options = Options::new(data_dir, PolicyFiles::built_in());
        options.signing_key = Some(key);
        options.checkpoint_every = std::time::Duration::from_millis(100);
        Self::start_options(options).await
    }

    /// Starts the service with `options`.
    pub async fn start_options(options: Options) -> Self {
        Self::start_on(options, None).await
    }

    /// Starts the service with `options` and a plain-text health port;
    /// returns the server and the health port's endpoint.
    pub async fn start_with_health_port(options: Options) -> (Self, String) {
        let port = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let health = format!("http://{}", port.local_addr().expect("addr"));
        (Self::start_on(options, Some(port)).await, health)
    }

    async fn start_on(options: Options, health_port: Option<tokio::net::TcpListener>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            consent_service::run_with_health_port(listener, health_port, options, async {
                let _ = stopped.await;
            })
            .await
            .map_err(|e| format!("{e:#}"))
        });
        let channel = Channel::from_shared(endpoint.clone())
            .expect("uri")
            .connect_lazy();
        let with = |c: Channel| InterceptedService::new(c, CallingSystem("integration-test"));
        Self {
            decisions: AccessDecisionServiceClient::new(with(channel.clone())),
            consent: ConsentServiceClient::new(with(channel.clone())),
            care: CareContextServiceClient::new(with(channel.clone())),
            policy: PolicyAdminServiceClient::new(with(channel.clone())),
            audit: AuditServiceClient::new(with(channel)),
            endpoint,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops the server and waits for it to finish; returns its outcome.
    pub async fn stop(mut self) -> Result<(), String> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.map_err(|e| e.to_string())?,
            None => Ok(()),
        }
    }
}

/// Who asks in most tests: a clinician at the hospital.
pub fn clinician() -> Requester {
    Requester {
        user_id: "dr-1".into(),
        role_code: "R8000".into(),
        organisation_ods: HOSPITAL.into(),
    }
}

impl Server {
    /// Registers `nhs` as an adult at the test practice and starts a care
    /// relationship with the hospital; returns the last log position.
    pub async fn admit(&mut self, nhs: &str) -> u64 {
        self.care
            .register_patient(RegisterPatientRequest {
                request_id: request_id(),
                nhs_number: nhs.into(),
                gp_practice_ods: PRACTICE.into(),
                date_of_birth: "1970-01-01".into(),
                user_id: "gp-feed".into(),
                expected_stream_version: None,
            })
            .await
            .expect("register patient");
        let started = self
            .care
            .start_care_relationship(StartCareRelationshipRequest {
                request_id: request_id(),
                nhs_number: nhs.into(),
                relationship_id: format!("ep-{nhs}"),
                organisation_ods: HOSPITAL.into(),
                kind: CareRelationshipKind::InpatientEpisode.into(),
                user_id: "pas-feed".into(),
                expected_stream_version: None,
            })
            .await
            .expect("start care relationship");
        write_position(started.into_inner().result)
    }

    /// Asks whether `requester` may see `section` of `nhs` for direct care.
    pub async fn authorize(
        &mut self,
        nhs: &str,
        requester: Requester,
        section: RecordSection,
    ) -> Decision {
        self.decisions
            .authorize(AuthorizeRequest {
                nhs_number: nhs.into(),
                requester: Some(requester),
                section: section.into(),
                purpose: Purpose::DirectCare.into(),
                source_organisation_ods: String::new(),
                min_log_position: 0,
                ..Default::default()
            })
            .await
            .expect("authorize")
            .into_inner()
            .decision
            .expect("decision")
    }

    /// Records an objection to direct care by the patient themself.
    pub fn objection(nhs: &str) -> RecordObjectionRequest {
        RecordObjectionRequest {
            request_id: request_id(),
            nhs_number: nhs.into(),
            scope: ObjectionScope::DirectCare.into(),
            submitter: Some(Submitter {
                who: Some(Who::Patient(true)),
            }),
            user_id: "pals-officer".into(),
            expected_stream_version: None,
        }
    }

    /// Every event in the log, in order.
    pub async fn all_events(&mut self) -> Vec<RecordedEvent> {
        let mut stream = self
            .audit
            .read_events(ReadEventsRequest {
                from_position: 1,
                ..Default::default()
            })
            .await
            .expect("read events")
            .into_inner();
        let mut events = Vec::new();
        while let Some(item) = stream.message().await.expect("event") {
            events.extend(item.event);
        }
        events
    }
}

/// Coventry and Warwickshire's region policy letting clinical roles use
/// break glass and anyone claim a relationship, as a region's policy
/// administrator could.
pub fn exceptional_access_region_policy() -> SetRegionPolicyRequest {
    SetRegionPolicyRequest {
        request_id: request_id(),
        region: "QWU".into(),
        name: "Coventry and Warwickshire".into(),
        consent_model: ConsentModel::OptOut.into(),
        minimum_age: 18,
        viewing_regions: vec!["QHL".into(), "QGH".into()],
        user_id: "ig-lead".into(),
        break_glass: true,
        self_claimed_relationship: true,
        review_within_days: 7,
        secondary_use_pseudonymised: true,
        children_social_care_from: String::new(),
        expected_stream_version: None,
    }
}

/// The log position of a write result.
pub fn write_position(result: Option<WriteResult>) -> u64 {
    result.expect("write result").log_position
}

/// Whether a decision allows.
pub fn allowed(decision: &Decision) -> bool {
    decision.outcome == Outcome::Allow as i32
}

/// A fresh request id.
pub fn request_id() -> String {
    format!(
        "req-{}",
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

//! A Rust client for the ICR consent service, for the components of an
//! Integrated Care Record platform.
//!
//! - [`Client`]: typed calls with a deadline on every call, retries only
//!   where repeating is safe (reads, and writes, which always carry a
//!   request id so that a retry is answered with the first result), and a
//!   consistency token: the highest log position this client has written,
//!   sent with later questions so that they see its writes.
//! - [`Question`]: a builder for an access question.
//! - [`AuthorizeLayer`]: a tower layer a record server puts in front of its
//!   handlers. It asks Authorize about the section a request would release
//!   and lets the request through only on an ALLOW; a DENY, an error or a
//!   timeout is a refusal (fail closed).
#![forbid(unsafe_code)]

mod layer;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use icr_proto::pb::access_decision_service_client::AccessDecisionServiceClient;
use icr_proto::pb::consent_service_client::ConsentServiceClient;
use icr_proto::pb::{
    AccessMode, AuthorizeRequest, Decision, GetConsentStatusRequest, GetConsentStatusResponse,
    Purpose, RecordObjectionRequest, RecordSection, Requester, WithdrawObjectionRequest,
    WriteResult,
};
use tonic::transport::Channel;
use tonic::{Code, Status};

pub use icr_proto::pb;
pub use layer::{AuthorizeLayer, Authorized, Refusal};

/// How long a call may take, by default.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(2);

/// How many times a safe call is tried again after `Unavailable`, by default.
pub const DEFAULT_RETRIES: u32 = 2;

/// A handle on the consent service. Cheap to clone; clones share the
/// connection and the consistency token.
#[derive(Debug, Clone)]
pub struct Client {
    channel: Channel,
    deadline: Duration,
    retries: u32,
    /// The highest log position this client's writes reached.
    token: Arc<AtomicU64>,
}

impl Client {
    /// A client over `channel` with the default deadline and retries.
    pub fn new(channel: Channel) -> Self {
        Self {
            channel,
            deadline: DEFAULT_DEADLINE,
            retries: DEFAULT_RETRIES,
            token: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Sets the deadline of every call.
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Sets how many times a safe call is tried again after `Unavailable`.
    pub fn with_retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// The consistency token: the highest log position this client has
    /// written. Questions asked through this client wait for it.
    pub fn consistency_token(&self) -> u64 {
        self.token.load(Ordering::Acquire)
    }

    /// Asks whether the question's requester may see its section. Never
    /// retried: a decision is recorded each time it is asked.
    pub async fn authorize(&self, question: &Question) -> Result<Decision, Status> {
        let mut request = question.request.clone();
        request.min_log_position = request.min_log_position.max(self.consistency_token());
        let mut client = AccessDecisionServiceClient::new(self.channel.clone());
        let response = client.authorize(self.with_deadline_on(request)).await?;
        response
            .into_inner()
            .decision
            .ok_or_else(|| Status::internal("the service answered without a decision"))
    }

    /// The patient's consent status, as of at least this client's writes.
    pub async fn consent_status(
        &self,
        nhs_number: &str,
    ) -> Result<GetConsentStatusResponse, Status> {
        let request = GetConsentStatusRequest {
            nhs_number: nhs_number.into(),
            min_log_position: self.consistency_token(),
        };
        self.retrying(|| {
            let mut client = ConsentServiceClient::new(self.channel.clone());
            let request = self.with_deadline_on(request.clone());
            async move {
                client
                    .get_consent_status(request)
                    .await
                    .map(tonic::Response::into_inner)
            }
        })
        .await
    }

    /// Records an objection. A request id is added if it has none, and kept
    /// across retries, so the objection is recorded once.
    pub async fn record_objection(
        &self,
        mut request: RecordObjectionRequest,
    ) -> Result<WriteResult, Status> {
        ensure_request_id(&mut request.request_id);
        self.write(request, |mut client, request| async move {
            let response = client.record_objection(request).await?;
            Ok(response.into_inner().result)
        })
        .await
    }

    /// Withdraws an objection, as [`Client::record_objection`] records one.
    pub async fn withdraw_objection(
        &self,
        mut request: WithdrawObjectionRequest,
    ) -> Result<WriteResult, Status> {
        ensure_request_id(&mut request.request_id);
        self.write(request, |mut client, request| async move {
            let response = client.withdraw_objection(request).await?;
            Ok(response.into_inner().result)
        })
        .await
    }

    /// Runs a write with retries (its request id makes them safe) and moves
    /// the consistency token to its position.
    async fn write<T, F, Fut>(&self, request: T, call: F) -> Result<WriteResult, Status>
    where
        T: Clone,
        F: Fn(ConsentServiceClient<Channel>, tonic::Request<T>) -> Fut,
        Fut: Future<Output = Result<Option<WriteResult>, Status>>,
    {
        let result = self
            .retrying(|| {
                let client = ConsentServiceClient::new(self.channel.clone());
                call(client, self.with_deadline_on(request.clone()))
            })
            .await?;
        self.written(result)
    }

    fn written(&self, result: Option<WriteResult>) -> Result<WriteResult, Status> {
        let result =
            result.ok_or_else(|| Status::internal("the service answered without a result"))?;
        self.token.fetch_max(result.log_position, Ordering::AcqRel);
        Ok(result)
    }

    fn with_deadline_on<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.set_timeout(self.deadline);
        request
    }

    /// Runs `call` again after `Unavailable`, up to the retry budget, with
    /// a short growing pause.
    async fn retrying<T, F, Fut>(&self, mut call: F) -> Result<T, Status>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        let mut pause = Duration::from_millis(50);
        let mut tries = 0;
        loop {
            match call().await {
                Err(status) if status.code() == Code::Unavailable && tries < self.retries => {
                    tries += 1;
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                }
                outcome => return outcome,
            }
        }
    }
}

fn ensure_request_id(request_id: &mut String) {
    if request_id.is_empty() {
        *request_id = ulid::Ulid::new().to_string();
    }
}

/// An access question: who wants to see which section of whose record, and
/// why.
#[derive(Debug, Clone)]
pub struct Question {
    request: AuthorizeRequest,
}

impl Question {
    /// `requester` (user id, national RBAC role code, ODS code of their
    /// organisation) asks for `section` of patient `nhs_number`'s record for
    /// direct care, in normal access mode.
    pub fn new(nhs_number: &str, section: RecordSection, requester: Requester) -> Self {
        Self {
            request: AuthorizeRequest {
                nhs_number: nhs_number.into(),
                requester: Some(requester),
                section: section.into(),
                purpose: Purpose::DirectCare.into(),
                access_mode: AccessMode::Normal.into(),
                ..Default::default()
            },
        }
    }

    /// Why the record is looked at (default: direct care).
    pub fn purpose(mut self, purpose: Purpose) -> Self {
        self.request.purpose = purpose.into();
        self
    }

    /// The organisation whose record the section comes from.
    pub fn source_organisation(mut self, ods: &str) -> Self {
        self.request.source_organisation_ods = ods.into();
        self
    }

    /// Break glass or a self-claimed relationship, with the reason given.
    pub fn exceptional(mut self, mode: AccessMode, reason: &str) -> Self {
        self.request.access_mode = mode.into();
        self.request.access_reason = reason.into();
        self
    }

    /// Waits for the service to have applied the log up to `position` (a
    /// consistency token from another client) before deciding.
    pub fn at_least(mut self, position: u64) -> Self {
        self.request.min_log_position = position;
        self
    }
}

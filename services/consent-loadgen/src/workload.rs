//! What each target sends, and how its answer is judged.
//!
//! A [`Workload`] is shared by every task of a run: the patients, the
//! requester, the request-id sequence and, for writes, the patient pool. A
//! [`Caller`] holds one connection's client and makes one request at a time.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use icr_events::codes;
use icr_proto::pb::access_decision_service_client::AccessDecisionServiceClient;
use icr_proto::pb::consent_service_client::ConsentServiceClient;
use icr_proto::pb::submitter::Who;
use icr_proto::pb::{
    AuthorizeBatchRequest, AuthorizeRequest, Decision, ObjectionScope, Outcome as DecisionOutcome,
    Purpose, RecordObjectionRequest, RecordSection, Requester, Submitter, WithdrawObjectionRequest,
    WriteResult,
};
use prost::Message;
use tonic::transport::Channel;

use crate::calling::request;
pub use crate::calling::{CALLING_SYSTEM, CALLING_SYSTEM_HEADER};
use crate::objections::{Objection, PatientPool, objection_of};
use crate::pb::PingRequest;
use crate::pb::bench_service_client::BenchServiceClient;
use crate::report::Outcome;

/// Sections asked per `authorize-batch` request.
pub const BATCH_SECTIONS: usize = 20;

/// What a run sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// `Authorize`: one section (medications, for direct care).
    Authorize,
    /// `AuthorizeBatch`: 20 sections (all 19, then demographics again).
    AuthorizeBatch,
    /// `RecordObjection` and `WithdrawObjection`, alternating per patient.
    RecordObjection,
    /// `Ping` on the no-op server: the transport floor.
    Noop,
}

impl Target {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Authorize => "authorize",
            Self::AuthorizeBatch => "authorize-batch",
            Self::RecordObjection => "record-objection",
            Self::Noop => "noop",
        }
    }

    /// Whether its answers carry access decisions.
    pub fn decides(self) -> bool {
        matches!(self, Self::Authorize | Self::AuthorizeBatch)
    }
}

/// The sections of an `authorize-batch` request: every section this build
/// knows in turn, then round again.
pub fn batch_sections() -> Vec<i32> {
    codes::sections()
        .map(i32::from)
        .cycle()
        .take(BATCH_SECTIONS)
        .collect()
}

/// What every task of one run shares.
#[derive(Debug)]
pub struct Workload {
    target: Target,
    patients: Vec<String>,
    next_patient: AtomicUsize,
    requester: Requester,
    /// Prefix of this run's request ids, unique per run so no write is
    /// mistaken for a retry of an earlier run's.
    run_id: String,
    next_request: AtomicU64,
    pool: Option<Arc<PatientPool>>,
    ping: PingRequest,
    timeout: Duration,
}

impl Workload {
    /// A workload over `patients` (NHS numbers) asking as `requester`.
    /// Writes use `pool` (one entry per patient); the no-op sends a request
    /// as large as an `AuthorizeRequest` and asks for `noop_response_bytes`.
    pub fn new(
        target: Target,
        patients: Vec<String>,
        requester: Requester,
        pool: Option<PatientPool>,
        noop_response_bytes: u32,
        timeout: Duration,
    ) -> Self {
        let mut workload = Self {
            target,
            patients,
            next_patient: AtomicUsize::new(0),
            requester,
            run_id: ulid::Ulid::new().to_string(),
            next_request: AtomicU64::new(0),
            pool: pool.map(Arc::new),
            ping: PingRequest::default(),
            timeout,
        };
        let sample = workload.authorize_request(0);
        workload.ping = ping_like(sample.encoded_len(), noop_response_bytes);
        workload
    }

    /// A caller sending over `channel`.
    pub fn caller(self: &Arc<Self>, channel: Channel) -> Caller {
        let client = match self.target {
            Target::Authorize | Target::AuthorizeBatch => {
                Client::Decisions(AccessDecisionServiceClient::new(channel))
            }
            Target::RecordObjection => Client::Consent(ConsentServiceClient::new(channel)),
            Target::Noop => Client::Bench(BenchServiceClient::new(channel)),
        };
        Caller {
            workload: Arc::clone(self),
            client,
        }
    }

    /// The next patient, round robin.
    fn next_patient(&self) -> usize {
        self.next_patient.fetch_add(1, Ordering::Relaxed) % self.patients.len()
    }

    fn request_id(&self) -> String {
        let n = self.next_request.fetch_add(1, Ordering::Relaxed);
        format!("lg-{}-{n}", self.run_id)
    }

    fn authorize_request(&self, patient: usize) -> AuthorizeRequest {
        AuthorizeRequest {
            nhs_number: self.patients[patient].clone(),
            requester: Some(self.requester.clone()),
            section: RecordSection::Medications.into(),
            purpose: Purpose::DirectCare.into(),
            ..Default::default()
        }
    }
}

/// A `PingRequest` whose encoding is `size` bytes long (or as close below
/// as the varint lengths allow).
fn ping_like(size: usize, response_bytes: u32) -> PingRequest {
    let mut ping = PingRequest {
        payload: Vec::new(),
        response_bytes,
    };
    let mut len = size;
    loop {
        ping.payload = vec![0xa5; len];
        if ping.encoded_len() <= size || len == 0 {
            return ping;
        }
        len -= 1;
    }
}

#[derive(Debug, Clone)]
enum Client {
    Decisions(AccessDecisionServiceClient<Channel>),
    Consent(ConsentServiceClient<Channel>),
    Bench(BenchServiceClient<Channel>),
}

/// Makes one request at a time over one connection.
#[derive(Debug, Clone)]
pub struct Caller {
    workload: Arc<Workload>,
    client: Client,
}

/// Counts the decisions of an answer; an outcome that is neither allow nor
/// deny, or a count other than `expected`, makes the answer malformed.
fn judge(decisions: &[Decision], expected: usize) -> Outcome {
    let allowed = decisions
        .iter()
        .filter(|d| d.outcome == DecisionOutcome::Allow as i32)
        .count();
    let denied = decisions
        .iter()
        .filter(|d| d.outcome == DecisionOutcome::Deny as i32)
        .count();
    if decisions.len() != expected || allowed + denied != expected {
        return Outcome::malformed();
    }
    Outcome::Ok {
        allowed: allowed as u32,
        denied: denied as u32,
    }
}

/// A write acknowledged as a new event (a fresh request id is never a replay).
fn judge_write(result: Option<WriteResult>) -> Outcome {
    match result {
        Some(r) if !r.replayed && r.log_position > 0 => Outcome::OK,
        _ => Outcome::malformed(),
    }
}

impl Caller {
    /// Sends one request and judges the answer; no answer within the
    /// workload's timeout is a `ClientTimeout` error.
    pub async fn call(&mut self) -> Outcome {
        match tokio::time::timeout(self.workload.timeout, self.call_once()).await {
            Ok(outcome) => outcome,
            Err(_) => Outcome::Error("ClientTimeout".into()),
        }
    }

    async fn call_once(&mut self) -> Outcome {
        let w = &self.workload;
        match &mut self.client {
            Client::Decisions(client) if w.target == Target::Authorize => {
                let message = w.authorize_request(w.next_patient());
                match client.authorize(request(message)).await {
                    Ok(r) => judge(r.get_ref().decision.as_slice(), 1),
                    Err(status) => Outcome::status(&status),
                }
            }
            Client::Decisions(client) => {
                let message = AuthorizeBatchRequest {
                    nhs_number: w.patients[w.next_patient()].clone(),
                    requester: Some(w.requester.clone()),
                    sections: batch_sections(),
                    purpose: Purpose::DirectCare.into(),
                    ..Default::default()
                };
                match client.authorize_batch(request(message)).await {
                    Ok(r) => judge(&r.get_ref().decisions, BATCH_SECTIONS),
                    Err(status) => Outcome::status(&status),
                }
            }
            Client::Consent(client) => {
                let Some(pool) = &w.pool else {
                    return Outcome::Error("NoPatientPool".into());
                };
                write_objection(w, pool, client).await
            }
            Client::Bench(client) => match client.ping(request(w.ping.clone())).await {
                Ok(r) if r.get_ref().payload.len() == w.ping.response_bytes as usize => Outcome::OK,
                Ok(_) => Outcome::malformed(),
                Err(status) => Outcome::status(&status),
            },
        }
    }
}

/// Records an objection for a lent patient who has none, or withdraws the
/// one they have.
async fn write_objection(
    w: &Workload,
    pool: &Arc<PatientPool>,
    client: &mut ConsentServiceClient<Channel>,
) -> Outcome {
    let mut loan = pool.take().await;
    let nhs_number = w.patients[loan.index].clone();
    let objection = match loan.objection {
        Objection::Unknown => match objection_of(client, &nhs_number).await {
            Ok(objection) => objection,
            Err(status) => return Outcome::status(&status),
        },
        known => known,
    };
    let submitter = Some(Submitter {
        who: Some(Who::Patient(true)),
    });
    // Withdrawing and recording take the same fields; only the type differs.
    macro_rules! message {
        ($request:ident) => {
            $request {
                request_id: w.request_id(),
                nhs_number,
                scope: ObjectionScope::DirectCare.into(),
                submitter,
                user_id: w.requester.user_id.clone(),
                expected_stream_version: None,
            }
        };
    }
    let (result, after) = if objection == Objection::Active {
        let sent = client.withdraw_objection(request(message!(WithdrawObjectionRequest)));
        (sent.await.map(|r| r.into_inner().result), Objection::None)
    } else {
        let sent = client.record_objection(request(message!(RecordObjectionRequest)));
        (sent.await.map(|r| r.into_inner().result), Objection::Active)
    };
    match result {
        Ok(result) => {
            let outcome = judge_write(result);
            if outcome == Outcome::OK {
                loan.settle(after);
            }
            outcome
        }
        Err(status) => Outcome::status(&status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workload() -> Workload {
        let requester = Requester {
            user_id: "loadgen".into(),
            role_code: "R8000".into(),
            organisation_ods: "RKB".into(),
        };
        Workload::new(
            Target::Noop,
            vec!["9000000009".into()],
            requester,
            None,
            300,
            Duration::from_secs(1),
        )
    }

    #[test]
    fn the_ping_is_as_large_as_the_authorize_request_it_stands_in_for() {
        let w = workload();
        let authorize = w.authorize_request(0).encoded_len();
        assert!(authorize > 30, "{authorize}");
        assert_eq!(w.ping.encoded_len(), authorize);
        assert_eq!(w.ping.response_bytes, 300);
    }

    #[test]
    fn a_batch_asks_twenty_valid_sections() {
        let sections = batch_sections();
        assert_eq!(sections.len(), BATCH_SECTIONS);
        let distinct: std::collections::BTreeSet<_> = sections.iter().collect();
        assert_eq!(distinct.len(), 19, "every section is asked");
        for s in sections {
            let section = RecordSection::try_from(s).unwrap();
            assert_ne!(section, RecordSection::Unspecified);
        }
    }

    #[test]
    fn decisions_are_counted_and_odd_answers_are_errors() {
        let decision = |outcome: DecisionOutcome| Decision {
            outcome: outcome.into(),
            ..Default::default()
        };
        let allow = decision(DecisionOutcome::Allow);
        let deny = decision(DecisionOutcome::Deny);
        let odd = decision(DecisionOutcome::Unspecified);
        assert_eq!(
            judge(&[allow.clone(), deny.clone()], 2),
            Outcome::Ok {
                allowed: 1,
                denied: 1
            }
        );
        assert_eq!(judge(std::slice::from_ref(&allow), 2), Outcome::malformed());
        assert_eq!(judge(&[allow, odd], 2), Outcome::malformed());
        assert_eq!(judge(&[], 1), Outcome::malformed());
        let replayed = WriteResult {
            replayed: true,
            log_position: 3,
            ..Default::default()
        };
        assert_eq!(judge_write(Some(replayed)), Outcome::malformed());
        assert_eq!(judge_write(None), Outcome::malformed());
    }
}

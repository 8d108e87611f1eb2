//! The NATS JetStream peer of the durable-append comparison.
//!
//! A stream with file storage on one subject is (re)created, then a closed
//! loop of publishers each publishes one event and waits for the server's
//! acknowledgement before publishing the next, exactly as the
//! `record-objection` target waits for each write to be acknowledged. Every
//! message is an `ObjectionRecorded` event encoded as the consent service's
//! log stores it, so both sides append the same bytes per event.
//!
//! What an acknowledgement promises is the server's business: NATS 2.9
//! acknowledges once the message is written to the stream's files, and
//! syncs them to disk on a timer; later servers can sync on every write
//! (`sync_interval: always`). Whoever reports the figures must say which.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, bail};
use async_nats::jetstream::ErrorCode;
use async_nats::jetstream::context::{Context, PublishErrorKind};
use async_nats::jetstream::stream::{self, StorageType};
use async_nats::{ConnectOptions, Subject};
use icr_events::NhsNumber;
use icr_proto::pb::event_payload::Kind;
use icr_proto::pb::{Actor, EventPayload, ObjectionRecorded, ObjectionScope, RecordedEvent};
use prost::Message;

use crate::calling::CALLING_SYSTEM;
use crate::driver::{Call, Window, closed_loop};
use crate::report::{Outcome, Report, RunDescription};

/// The target name in reports.
pub const TARGET: &str = "jetstream-publish";

/// Stream created for the run unless told otherwise.
pub const DEFAULT_STREAM: &str = "ICR_EVENTS";

/// The one subject the stream holds, unless told otherwise.
pub const DEFAULT_SUBJECT: &str = "icr.consent.events";

/// Bytes of the chain hash the log writes beside each event (SHA-256).
const CHAIN_HASH_BYTES: usize = 32;

/// Longest wait for the connection and for the stream to be set up.
const SETUP_TIMEOUT: Duration = Duration::from_secs(5);

/// Everything a JetStream run needs to know.
#[derive(Debug, Clone)]
pub struct JetStreamConfig {
    /// The NATS server, e.g. `nats://127.0.0.1:4222`.
    pub server: String,
    /// Name of the stream; one of that name is deleted first.
    pub stream: String,
    /// The subject the stream holds and every message is published to.
    pub subject: String,
    /// Separate NATS connections; publishers are spread over them.
    pub connections: usize,
    /// Publishers, each awaiting its acknowledgement before publishing again.
    pub concurrency: usize,
    /// How long to measure, after the warm-up.
    pub duration: Duration,
    /// How long to publish before measuring.
    pub warmup: Duration,
    /// Patients the events go round, as for the gRPC targets.
    pub patients: u32,
    /// First synthetic patient.
    pub patient_offset: u32,
    /// The user named in each event's actor.
    pub user_id: String,
    /// Longest wait for one acknowledgement before it counts as
    /// `ClientTimeout`.
    pub timeout: Duration,
}

impl JetStreamConfig {
    /// A run against `server` with the defaults of the command line.
    pub fn new(server: impl Into<String>) -> Self {
        Self {
            server: server.into(),
            stream: DEFAULT_STREAM.into(),
            subject: DEFAULT_SUBJECT.into(),
            connections: 4,
            concurrency: 16,
            duration: Duration::from_secs(10),
            warmup: Duration::from_secs(2),
            patients: 1000,
            patient_offset: 0,
            user_id: CALLING_SYSTEM.into(),
            timeout: Duration::from_secs(10),
        }
    }

    fn check(&self) -> anyhow::Result<()> {
        if self.connections == 0 || self.concurrency == 0 {
            bail!("connections and concurrency must be at least 1");
        }
        crate::driver::check_patients(self.patient_offset, self.patients)
    }

    fn description(&self) -> RunDescription {
        RunDescription {
            target: TARGET.into(),
            mode: "closed".into(),
            endpoint: self.server.clone(),
            connections: self.connections,
            concurrency: self.concurrency,
            rate: None,
            patients: self.patients,
        }
    }
}

/// `ObjectionRecorded` events shaped as the log stores them, for patients in
/// turn; shared by every publisher of a run.
#[derive(Debug)]
pub struct ObjectionEvents {
    patients: Vec<String>,
    user_id: String,
    /// Prefix of the events' request ids, unique per run.
    run_id: String,
    next: AtomicU64,
}

impl ObjectionEvents {
    /// Events for `patients` synthetic patients from `offset`, entered by
    /// `user_id`.
    pub fn new(offset: u32, patients: u32, user_id: impl Into<String>) -> Self {
        Self {
            patients: (0..patients)
                .map(|i| NhsNumber::synthetic(offset + i).to_string())
                .collect(),
            user_id: user_id.into(),
            run_id: ulid::Ulid::new().to_string(),
            next: AtomicU64::new(0),
        }
    }

    /// The next event: a fresh id, the next log position, the next patient
    /// and that patient's next stream version.
    pub fn next_event(&self) -> RecordedEvent {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let count = self.patients.len() as u64;
        let nhs_number = self.patients[(n % count) as usize].clone();
        RecordedEvent {
            id: ulid::Ulid::new().to_string(),
            position: n + 1,
            stream: format!("patient/{nhs_number}"),
            stream_version: n / count + 1,
            recorded_at: Some(SystemTime::now().into()),
            actor: Some(Actor {
                calling_system: CALLING_SYSTEM.into(),
                user_id: self.user_id.clone(),
                on_behalf_of: String::new(),
            }),
            event_type: "ObjectionRecorded".into(),
            schema_version: 1,
            request_id: format!("lg-{}-{n}", self.run_id),
            payload: Some(EventPayload {
                kind: Some(Kind::ObjectionRecorded(ObjectionRecorded {
                    nhs_number,
                    scope: ObjectionScope::DirectCare.into(),
                    attorney_id: String::new(),
                })),
            }),
            // The log keeps the chain hash beside the event; the peer
            // carries the same bytes in the message.
            chain_hash: vec![0x5a; CHAIN_HASH_BYTES],
        }
    }

    /// The next event, encoded: what one publish carries.
    pub fn next_message(&self) -> Vec<u8> {
        self.next_event().encode_to_vec()
    }
}

/// Publishes one event at a time over one connection and waits for its
/// acknowledgement.
#[derive(Debug, Clone)]
struct Publisher {
    context: Context,
    subject: Subject,
    stream: Arc<str>,
    events: Arc<ObjectionEvents>,
    timeout: Duration,
}

impl Publisher {
    async fn publish(&self) -> Outcome {
        let message = self.events.next_message();
        let acknowledged = async {
            let ack = self
                .context
                .publish(self.subject.clone(), message.into())
                .await?;
            ack.await
        };
        match tokio::time::timeout(self.timeout, acknowledged).await {
            Err(_) => Outcome::Error("ClientTimeout".into()),
            Ok(Err(error)) => Outcome::Error(publish_error_name(error.kind())),
            Ok(Ok(ack)) if ack.stream == *self.stream && ack.sequence > 0 && !ack.duplicate => {
                Outcome::OK
            }
            Ok(Ok(_)) => Outcome::malformed(),
        }
    }
}

impl Call for Publisher {
    async fn call(&mut self) -> Outcome {
        self.publish().await
    }
}

/// The error kind as it is counted in reports.
fn publish_error_name(kind: PublishErrorKind) -> String {
    match kind {
        PublishErrorKind::TimedOut => "ClientTimeout".into(),
        other => format!("{other:?}"),
    }
}

/// Opens `count` separate connections to `server`.
async fn connect(server: &str, count: usize, timeout: Duration) -> anyhow::Result<Vec<Context>> {
    let mut contexts = Vec::with_capacity(count);
    for _ in 0..count {
        let client = ConnectOptions::new()
            .name(CALLING_SYSTEM)
            .connection_timeout(SETUP_TIMEOUT)
            .connect(server)
            .await
            .with_context(|| format!("connecting to {server}"))?;
        let mut context = async_nats::jetstream::new(client);
        context.set_timeout(timeout);
        contexts.push(context);
    }
    Ok(contexts)
}

/// Deletes any stream named `name` and creates it afresh: file storage, one
/// replica, no limits, holding `subject` alone.
async fn recreate_stream(context: &Context, name: &str, subject: &str) -> anyhow::Result<()> {
    match context.delete_stream(name).await {
        Ok(_) => {}
        Err(error) => {
            let missing = matches!(
                error.kind(),
                async_nats::jetstream::context::DeleteStreamErrorKind::JetStream(e)
                    if e.error_code() == ErrorCode::STREAM_NOT_FOUND
            );
            if !missing {
                return Err(error).with_context(|| format!("deleting stream {name}"));
            }
        }
    }
    context
        .create_stream(stream::Config {
            name: name.to_owned(),
            subjects: vec![subject.to_owned()],
            storage: StorageType::File,
            num_replicas: 1,
            ..Default::default()
        })
        .await
        .with_context(|| format!("creating stream {name} on {subject}"))?;
    Ok(())
}

/// Runs the publish loop `config` describes and reports what it measured.
pub async fn run(config: &JetStreamConfig) -> anyhow::Result<Report> {
    config.check()?;
    let contexts = connect(&config.server, config.connections, config.timeout).await?;
    tokio::time::timeout(
        SETUP_TIMEOUT,
        recreate_stream(&contexts[0], &config.stream, &config.subject),
    )
    .await
    .context("setting up the stream took too long")??;
    let events = Arc::new(ObjectionEvents::new(
        config.patient_offset,
        config.patients,
        config.user_id.clone(),
    ));
    let stream: Arc<str> = config.stream.as_str().into();
    let subject = Subject::from(config.subject.as_str());
    let publishers: Vec<Publisher> = contexts
        .into_iter()
        .map(|context| Publisher {
            context,
            subject: subject.clone(),
            stream: Arc::clone(&stream),
            events: Arc::clone(&events),
            timeout: config.timeout,
        })
        .collect();
    let window = Window::starting_now(config.warmup, config.duration);
    let (recorder, last_answer) = closed_loop(&publishers, config.concurrency, window).await?;
    Ok(recorder.report(config.description(), window.measured(last_answer), false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_go_round_the_patients_and_decode_as_the_log_stores_them() {
        let events = ObjectionEvents::new(0, 2, "loadgen");
        let first = events.next_event();
        let second = events.next_event();
        let third = RecordedEvent::decode(events.next_message().as_slice()).unwrap();
        assert_eq!((first.position, second.position, third.position), (1, 2, 3));
        assert_eq!(first.stream, third.stream);
        assert_ne!(first.stream, second.stream);
        assert_eq!((first.stream_version, third.stream_version), (1, 2));
        assert_ne!(first.id, third.id);
        assert_eq!(third.event_type, "ObjectionRecorded");
        let Some(Kind::ObjectionRecorded(objection)) = third.payload.and_then(|p| p.kind) else {
            panic!("an ObjectionRecorded payload");
        };
        assert_eq!(third.stream, format!("patient/{}", objection.nhs_number));
        assert_eq!(objection.scope, ObjectionScope::DirectCare as i32);
    }

    #[test]
    fn every_message_is_about_the_same_size() {
        let events = ObjectionEvents::new(0, 1000, CALLING_SYSTEM);
        let sizes: Vec<usize> = (0..2000).map(|_| events.next_message().len()).collect();
        let (least, most) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
        assert!(*least > 150, "{least} bytes");
        // Varints vary: the recorded time's nanoseconds (up to 5 bytes, none
        // when zero), the position and the stream version.
        assert!(most - least <= 12, "{least}..{most} bytes");
    }

    #[test]
    fn the_report_names_the_peer() {
        let config = JetStreamConfig::new("nats://127.0.0.1:1");
        assert!(config.check().is_ok());
        assert_eq!(config.description().target, TARGET);
        let mut none = config.clone();
        none.concurrency = 0;
        assert!(none.check().is_err());
    }
}

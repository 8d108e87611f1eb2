//! Runs a load: connects, prepares the workload, then drives it in a closed
//! loop (a fixed number of requests in flight) or an open loop (requests
//! scheduled at a fixed rate), discards the warm-up and reports the rest.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use icr_events::NhsNumber;
use icr_proto::pb::Requester;
use icr_proto::pb::consent_service_client::ConsentServiceClient;
use tokio::sync::{Semaphore, mpsc};
use tokio::time::Instant;
use tonic::transport::{Channel, Endpoint};

use crate::objections::{PatientPool, objection_states};
use crate::report::{Outcome, Recorder, Report, RunDescription};
use crate::workload::{Caller, Target, Workload};

/// Everything a run needs to know.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// The service (or no-op server), e.g. `http://127.0.0.1:50051`.
    pub endpoint: String,
    /// What to send.
    pub target: Target,
    /// Separate HTTP/2 connections; requests are spread over them.
    pub connections: usize,
    /// Closed loop: requests in flight, each sent when the last one of its
    /// task is answered.
    pub concurrency: usize,
    /// Open loop: requests per second, sent on schedule whatever the
    /// answers; latency counts from the scheduled time.
    pub rate: Option<f64>,
    /// Open loop: most requests in flight; past it, sending waits (and the
    /// wait shows in the latency).
    pub max_in_flight: usize,
    /// How long to measure, after the warm-up.
    pub duration: Duration,
    /// How long to send before measuring.
    pub warmup: Duration,
    /// Patients the requests go round: `NhsNumber::synthetic(i)` for `i` in
    /// `patient_offset..patient_offset + patients`.
    pub patients: u32,
    /// First synthetic patient.
    pub patient_offset: u32,
    /// The requester asking for decisions, and the user entering writes.
    pub requester: Requester,
    /// Longest wait for one answer before it counts as `ClientTimeout`.
    pub timeout: Duration,
    /// Bytes the no-op's response carries, to stand in for an
    /// `AuthorizeResponse`.
    pub noop_response_bytes: u32,
}

/// Refuses an empty patient range, or one past the synthetic NHS numbers.
pub(crate) fn check_patients(offset: u32, patients: u32) -> anyhow::Result<()> {
    if patients == 0 {
        bail!("at least one patient is needed");
    }
    let end = u64::from(offset) + u64::from(patients);
    if end > u64::from(NhsNumber::SYNTHETIC) {
        bail!(
            "patients {offset}..{end} run past the {} synthetic NHS numbers",
            NhsNumber::SYNTHETIC
        );
    }
    Ok(())
}

/// Payload of a no-op response by default: about the size of an allowed
/// `AuthorizeResponse` for one section (measured by the smoke test).
pub const DEFAULT_NOOP_RESPONSE_BYTES: u32 = 180;

impl LoadConfig {
    /// A closed-loop run of `target` against `endpoint` with the defaults
    /// of the command line.
    pub fn new(endpoint: impl Into<String>, target: Target) -> Self {
        Self {
            endpoint: endpoint.into(),
            target,
            connections: 4,
            concurrency: 16,
            rate: None,
            max_in_flight: 1024,
            duration: Duration::from_secs(10),
            warmup: Duration::from_secs(2),
            patients: 1000,
            patient_offset: 0,
            requester: Requester {
                user_id: "consent-loadgen".into(),
                role_code: "R8000".into(),
                organisation_ods: "RKB".into(),
            },
            timeout: Duration::from_secs(10),
            noop_response_bytes: DEFAULT_NOOP_RESPONSE_BYTES,
        }
    }

    fn check(&self) -> anyhow::Result<()> {
        if self.connections == 0 || self.concurrency == 0 || self.max_in_flight == 0 {
            bail!("connections, concurrency and max in flight must be at least 1");
        }
        check_patients(self.patient_offset, self.patients)?;
        if let Some(rate) = self.rate
            && !(rate.is_finite() && rate > 0.0)
        {
            bail!("the rate must be a positive number of requests per second");
        }
        Ok(())
    }

    fn description(&self) -> RunDescription {
        RunDescription {
            target: self.target.name().into(),
            mode: if self.rate.is_some() {
                "open"
            } else {
                "closed"
            }
            .into(),
            endpoint: self.endpoint.clone(),
            connections: self.connections,
            concurrency: if self.rate.is_some() {
                self.max_in_flight
            } else {
                self.concurrency
            },
            rate: self.rate,
            patients: self.patients,
        }
    }
}

/// Longest wait for a connection to be set up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens `count` separate HTTP/2 connections to `endpoint`.
pub async fn connect(endpoint: &str, count: usize) -> anyhow::Result<Vec<Channel>> {
    let endpoint = Endpoint::from_shared(endpoint.to_owned())
        .with_context(|| format!("{endpoint} is not a valid endpoint URI"))?
        .connect_timeout(CONNECT_TIMEOUT);
    let mut channels = Vec::with_capacity(count);
    for _ in 0..count {
        let channel = endpoint
            .connect()
            .await
            .with_context(|| format!("connecting to {}", endpoint.uri()))?;
        channels.push(channel);
    }
    Ok(channels)
}

/// Runs the load `config` describes and reports what it measured.
pub async fn run(config: &LoadConfig) -> anyhow::Result<Report> {
    config.check()?;
    let channels = connect(&config.endpoint, config.connections).await?;
    let patients: Vec<String> = (0..config.patients)
        .map(|i| NhsNumber::synthetic(config.patient_offset + i).to_string())
        .collect();
    let pool = if config.target == Target::RecordObjection {
        let client = ConsentServiceClient::new(channels[0].clone());
        let states = objection_states(client, &patients, config.timeout)
            .await
            .context("reading the patients' objections before the run")?;
        Some(PatientPool::with_states(states))
    } else {
        None
    };
    let workload = Arc::new(Workload::new(
        config.target,
        patients,
        config.requester.clone(),
        pool,
        config.noop_response_bytes,
        config.timeout,
    ));
    let callers: Vec<Caller> = channels.into_iter().map(|c| workload.caller(c)).collect();
    let window = Window::starting_now(config.warmup, config.duration);
    let (recorder, last_answer) = match config.rate {
        None => closed_loop(&callers, config.concurrency, window).await?,
        Some(rate) => open_loop(&callers, rate, config.max_in_flight, window).await?,
    };
    let measured = window.measured(last_answer);
    Ok(recorder.report(config.description(), measured, config.target.decides()))
}

/// Makes one request at a time and judges the answer: what each task of a
/// closed loop repeats. The gRPC [`Caller`] is one; the JetStream publisher
/// of the durable-append comparison is another.
pub(crate) trait Call: Clone + Send + 'static {
    /// Sends one request and judges the answer.
    fn call(&mut self) -> impl Future<Output = Outcome> + Send;
}

impl Call for Caller {
    fn call(&mut self) -> impl Future<Output = Outcome> + Send {
        Caller::call(self)
    }
}

/// When sending stops, and from when requests are measured.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    measure_from: Instant,
    end: Instant,
}

impl Window {
    /// Measuring starts after `warmup` from now and lasts `duration`.
    pub(crate) fn starting_now(warmup: Duration, duration: Duration) -> Self {
        let measure_from = Instant::now() + warmup;
        Self {
            measure_from,
            end: measure_from + duration,
        }
    }

    /// Length of the measured part of a run whose last counted request was
    /// answered at `last_answer`. Requests sent before the end are all
    /// counted, so the measured part lasts until the last of them was
    /// answered.
    pub(crate) fn measured(&self, last_answer: Instant) -> Duration {
        last_answer.max(self.end) - self.measure_from
    }
}

/// `concurrency` tasks, each sending its next request when the last is
/// answered, taking `callers` in turn; a request counts when it was sent
/// after the warm-up.
pub(crate) async fn closed_loop<C: Call>(
    callers: &[C],
    concurrency: usize,
    window: Window,
) -> anyhow::Result<(Recorder, Instant)> {
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..concurrency {
        let mut caller = callers[task % callers.len()].clone();
        tasks.spawn(async move {
            let mut recorder = Recorder::new();
            let mut last_answer = window.measure_from;
            loop {
                let sent = Instant::now();
                if sent >= window.end {
                    break;
                }
                let outcome = caller.call().await;
                let answered = Instant::now();
                if sent >= window.measure_from {
                    recorder.record(answered - sent, outcome);
                    last_answer = answered;
                }
            }
            (recorder, last_answer)
        });
    }
    let mut total = Recorder::new();
    let mut last_answer = window.measure_from;
    while let Some(done) = tasks.join_next().await {
        let (recorder, last) = done.context("a load task failed")?;
        total.merge(&recorder);
        last_answer = last_answer.max(last);
    }
    Ok((total, last_answer))
}

/// Requests sent on a fixed schedule, `rate` per second, spread over the
/// connections in turn; each one's latency counts from when it was due, so
/// a slow answer that delays later sends (coordinated omission) still shows.
/// Tokio's timer wakes in whole milliseconds, so a request may leave up to
/// about 1 ms after it was due: that lateness is in the latency too.
async fn open_loop(
    callers: &[Caller],
    rate: f64,
    max_in_flight: usize,
    window: Window,
) -> anyhow::Result<(Recorder, Instant)> {
    let (answers, mut answered) = mpsc::unbounded_channel::<(Instant, Instant, Outcome)>();
    let collector = tokio::spawn(async move {
        let mut recorder = Recorder::new();
        let mut last_answer = window.measure_from;
        while let Some((due, at, outcome)) = answered.recv().await {
            if due >= window.measure_from {
                recorder.record(at - due, outcome);
                last_answer = last_answer.max(at);
            }
        }
        (recorder, last_answer)
    });
    let in_flight = Arc::new(Semaphore::new(max_in_flight));
    let start = Instant::now();
    let interval = 1.0 / rate;
    for n in 0u64.. {
        let due = start + Duration::from_secs_f64(n as f64 * interval);
        if due >= window.end {
            break;
        }
        tokio::time::sleep_until(due).await;
        let permit = Arc::clone(&in_flight).acquire_owned().await?;
        let mut caller = callers[(n % callers.len() as u64) as usize].clone();
        let answers = answers.clone();
        tokio::spawn(async move {
            let outcome = caller.call().await;
            let at = Instant::now();
            drop(permit);
            // The collector outlives every sender.
            let _ = answers.send((due, at, outcome));
        });
    }
    drop(answers);
    collector.await.context("the collector task failed")
}

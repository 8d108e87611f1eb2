//! The plans of the two replays, the event log's and the decision
//! audit's: each request's filters and time window validated and turned
//! into where the replay starts, what it reads and what it keeps.

use std::sync::Arc;

use icr_events::codes::identifier;
use icr_events::{FieldError, timestamp_from_proto};
use icr_proto::Timestamp;
use icr_proto::pb::{
    AccessMode, CaughtUp, DecisionRecord, ReadDecisionsRequest, ReadDecisionsResponse,
    ReadEventsRequest, ReadEventsResponse, RecordedEvent,
};

use crate::Storage;
use crate::api::replay::{Plan, ReadPage, Shape};
use crate::api::servers::Handle;
use crate::status::ServiceResult;
use crate::validate;
use crate::validate::limits::{MAX_ACCESS_MODE_FILTERS, MAX_STREAM};

/// An optional instant that jiff can represent.
fn instant(field: &str, value: Option<&Timestamp>) -> Result<Option<Timestamp>, FieldError> {
    match value {
        None => Ok(None),
        Some(ts) => timestamp_from_proto(ts)
            .map(|_| Some(*ts))
            .ok_or_else(|| FieldError::new(field, "is not a valid instant")),
    }
}

/// The time window of a replay request, validated.
struct Window {
    since: Option<Timestamp>,
    until: Option<Timestamp>,
}

/// Where a replay starts, how much it sends, and whether it goes on live.
struct Start {
    from: u64,
    limit: u64,
    follow: bool,
}

impl Window {
    fn new(from_time: &Option<Timestamp>, to_time: &Option<Timestamp>) -> Result<Self, FieldError> {
        Ok(Self {
            since: instant("from_time", from_time.as_ref())?,
            until: instant("to_time", to_time.as_ref())?,
        })
    }

    fn plan<T>(
        self,
        start: Start,
        head: tokio::sync::watch::Receiver<u64>,
        read: ReadPage<T>,
        stopping: tokio::sync::watch::Receiver<bool>,
        keep: Box<dyn Fn(&T) -> bool + Send>,
    ) -> Plan<T> {
        Plan {
            from: start.from,
            limit: start.limit,
            follow: start.follow,
            since: self.since,
            until: self.until,
            head,
            read,
            keep,
            stopping,
        }
    }
}

/// A page read from a cloneable source.
fn page<S, T, F, Fut>(source: S, read: F) -> ReadPage<T>
where
    S: Clone + Send + Sync + 'static,
    T: 'static,
    F: Fn(S, u64, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Vec<T>, icr_log::LogError>> + Send + 'static,
{
    Arc::new(move |from, limit| Box::pin(read(source.clone(), from, limit)))
}

impl<L: Storage> Handle<L> {
    pub(super) async fn event_plan(
        &self,
        req: ReadEventsRequest,
    ) -> ServiceResult<Plan<RecordedEvent>> {
        let mut stream = req.stream.clone();
        if !req.nhs_number.is_empty() {
            let nhs = validate::nhs_number("nhs_number", &req.nhs_number)?;
            let patient = format!("patient/{nhs}");
            if !stream.is_empty() && stream != patient {
                return Err(
                    FieldError::new("stream", "names another stream than nhs_number").into(),
                );
            }
            stream = patient;
        } else if !stream.is_empty() {
            identifier("stream", &stream, MAX_STREAM)?;
        }
        validate::event_types("event_types", &req.event_types)?;
        let window = Window::new(&req.from_time, &req.to_time)?;
        let log = self.0.log.clone();
        let start = match window.since {
            Some(time) => log.first_position_since(time).await?,
            None => 0,
        };
        let read = if stream.is_empty() {
            page(log.clone(), |log: L, from, limit| async move {
                log.read_from(from, limit).await
            })
        } else {
            page(
                (log.clone(), stream),
                |(log, stream): (L, String), from, limit| async move {
                    let events = log.read_stream(&stream, 1).await?;
                    Ok(events
                        .into_iter()
                        .filter(|e| e.position >= from)
                        .take(limit)
                        .collect())
                },
            )
        };
        let types = req.event_types;
        let keep = move |e: &RecordedEvent| types.is_empty() || types.contains(&e.event_type);
        Ok(window.plan(
            Start {
                from: req.from_position.max(start),
                limit: req.limit,
                follow: req.follow,
            },
            log.subscribe(),
            read,
            self.0.stopping.clone(),
            Box::new(keep),
        ))
    }

    pub(super) async fn decision_plan(
        &self,
        req: ReadDecisionsRequest,
    ) -> ServiceResult<Plan<DecisionRecord>> {
        validate::at_most(
            "access_modes",
            req.access_modes.len(),
            MAX_ACCESS_MODE_FILTERS,
        )?;
        let mut modes = Vec::with_capacity(req.access_modes.len());
        for (i, &mode) in req.access_modes.iter().enumerate() {
            match AccessMode::try_from(mode) {
                Ok(AccessMode::Unspecified) | Err(_) => {
                    let message = format!("unknown value {mode}");
                    return Err(FieldError::new(format!("access_modes[{i}]"), message).into());
                }
                Ok(mode) => modes.push(mode as i32),
            }
        }
        let window = Window::new(&req.from_time, &req.to_time)?;
        let log = self.0.log.clone();
        let start = match window.since {
            Some(time) => log.first_decision_since(time).await?,
            None => 0,
        };
        let read = if req.nhs_number.is_empty() {
            page(log.clone(), |log: L, from, limit| async move {
                log.read_decisions(from, limit).await
            })
        } else {
            let nhs = validate::nhs_number("nhs_number", &req.nhs_number)?.to_string();
            page(
                (log.clone(), nhs),
                |(log, nhs): (L, String), from, limit| async move {
                    log.patient_decisions(&nhs, from, limit).await
                },
            )
        };
        let keep = move |r: &DecisionRecord| modes.is_empty() || modes.contains(&r.access_mode);
        Ok(window.plan(
            Start {
                from: req.from_position.max(start),
                limit: req.limit,
                follow: req.follow,
            },
            log.subscribe_decisions(),
            read,
            self.0.stopping.clone(),
            Box::new(keep),
        ))
    }
}

pub(super) fn event_shape() -> Shape<RecordedEvent, ReadEventsResponse> {
    Shape {
        position: |e| e.position,
        time: |e| e.recorded_at,
        item: |event| ReadEventsResponse {
            event: Some(event),
            caught_up: None,
        },
        caught_up: |position| ReadEventsResponse {
            event: None,
            caught_up: Some(CaughtUp { position }),
        },
    }
}

pub(super) fn decision_shape() -> Shape<DecisionRecord, ReadDecisionsResponse> {
    Shape {
        position: |r| r.audit_position,
        time: |r| r.recorded_at,
        item: |record| ReadDecisionsResponse {
            record: Some(record),
            caught_up: None,
        },
        caught_up: |position| ReadDecisionsResponse {
            record: None,
            caught_up: Some(CaughtUp { position }),
        },
    }
}

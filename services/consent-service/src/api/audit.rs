//! AuditService: the event log and the decision audit replayed (filtered,
//! resumable, optionally live) and the signed checkpoints. One patient's
//! access report is in `report`, the log heads in `heads`, reviews and
//! point-in-time decisions in `review` and `history`.

use std::sync::Arc;

use icr_events::codes::identifier;
use icr_events::{FieldError, timestamp_from_proto};
use icr_proto::Timestamp;
use icr_proto::pb::audit_service_server::AuditService;
use icr_proto::pb::{
    AccessMode, AuthorizeAtRequest, AuthorizeAtResponse, CaughtUp, DecisionRecord,
    GetAccessReportRequest, GetAccessReportResponse, GetLogHeadsRequest, GetLogHeadsResponse,
    ListCheckpointsRequest, ListCheckpointsResponse, ListReviewQueueRequest,
    ListReviewQueueResponse, ReadDecisionsRequest, ReadDecisionsResponse, ReadEventsRequest,
    ReadEventsResponse, RecheckDecisionRequest, RecheckDecisionResponse, RecordAccessReviewRequest,
    RecordAccessReviewResponse, RecordedEvent,
};
use tonic::{Request, Response, Status};

use super::replay::{self, Plan, ReadPage, Replay, Shape};
use super::servers::Handle;
use crate::Storage;
use crate::status::ServiceResult;
use crate::validate;

use crate::validate::limits::{DEFAULT_PAGE, MAX_ACCESS_MODE_FILTERS, MAX_PAGE, MAX_STREAM};

/// A page size within `1..=MAX_PAGE` (0 means the default).
pub(crate) fn page_size(field: &str, value: u32) -> Result<usize, FieldError> {
    match value {
        0 => Ok(DEFAULT_PAGE as usize),
        n if n <= MAX_PAGE => Ok(n as usize),
        _ => Err(FieldError::new(
            field,
            format!("must be at most {MAX_PAGE}"),
        )),
    }
}

/// A page token this service gave: the next position to read.
pub(crate) fn page_token(field: &str, token: &str) -> Result<u64, FieldError> {
    match token {
        "" => Ok(1),
        token => token
            .parse::<u64>()
            .map_err(|_| FieldError::new(field, "is not a token this service gave")),
    }
}

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
    async fn event_plan(&self, req: ReadEventsRequest) -> ServiceResult<Plan<RecordedEvent>> {
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

    async fn decision_plan(
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

    async fn list_checkpoints_page(
        &self,
        req: ListCheckpointsRequest,
    ) -> ServiceResult<ListCheckpointsResponse> {
        let limit = page_size("page_size", req.page_size)?;
        Ok(ListCheckpointsResponse {
            checkpoints: self.0.log.checkpoints(req.from_sequence, limit).await?,
        })
    }
}

fn event_shape() -> Shape<RecordedEvent, ReadEventsResponse> {
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

fn decision_shape() -> Shape<DecisionRecord, ReadDecisionsResponse> {
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

#[tonic::async_trait]
impl<L: Storage> AuditService for Handle<L> {
    type ReadEventsStream = Replay<ReadEventsResponse>;
    type ReadDecisionsStream = Replay<ReadDecisionsResponse>;

    async fn read_events(
        &self,
        request: Request<ReadEventsRequest>,
    ) -> Result<Response<Self::ReadEventsStream>, Status> {
        let plan = self.event_plan(request.into_inner()).await?;
        Ok(Response::new(replay::start(plan, event_shape())))
    }

    async fn read_decisions(
        &self,
        request: Request<ReadDecisionsRequest>,
    ) -> Result<Response<Self::ReadDecisionsStream>, Status> {
        let plan = self.decision_plan(request.into_inner()).await?;
        Ok(Response::new(replay::start(plan, decision_shape())))
    }

    async fn get_access_report(
        &self,
        request: Request<GetAccessReportRequest>,
    ) -> Result<Response<GetAccessReportResponse>, Status> {
        Ok(Response::new(
            self.0.access_report(request.into_inner()).await?,
        ))
    }

    async fn list_review_queue(
        &self,
        request: Request<ListReviewQueueRequest>,
    ) -> Result<Response<ListReviewQueueResponse>, Status> {
        Ok(Response::new(
            self.0.review_queue(request.into_inner()).await?,
        ))
    }

    async fn record_access_review(
        &self,
        request: Request<RecordAccessReviewRequest>,
    ) -> Result<Response<RecordAccessReviewResponse>, Status> {
        self.write(request).await
    }

    async fn authorize_at(
        &self,
        request: Request<AuthorizeAtRequest>,
    ) -> Result<Response<AuthorizeAtResponse>, Status> {
        Ok(Response::new(
            self.0.authorize_at(request.into_inner()).await?,
        ))
    }

    async fn recheck_decision(
        &self,
        request: Request<RecheckDecisionRequest>,
    ) -> Result<Response<RecheckDecisionResponse>, Status> {
        Ok(Response::new(self.0.recheck(request.into_inner()).await?))
    }

    async fn list_checkpoints(
        &self,
        request: Request<ListCheckpointsRequest>,
    ) -> Result<Response<ListCheckpointsResponse>, Status> {
        Ok(Response::new(
            self.list_checkpoints_page(request.into_inner()).await?,
        ))
    }

    async fn get_log_heads(
        &self,
        _request: Request<GetLogHeadsRequest>,
    ) -> Result<Response<GetLogHeadsResponse>, Status> {
        Ok(Response::new(self.0.log_heads().await?))
    }
}

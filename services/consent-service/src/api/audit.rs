//! AuditService: the event log and the decision audit replayed (filtered,
//! resumable, optionally live; their plans in `plans`) and the signed
//! checkpoints, and the one write, an access's review, turned into the event
//! it proposes beside its tonic method. One patient's access report is in
//! `report`, the log heads in `heads`, the review queue and point-in-time
//! decisions in `review` and `history`.

use icr_events::codes::identifier;
use icr_events::{CommandError, FieldError};
use icr_proto::pb::audit_service_server::AuditService;
use icr_proto::pb::event_payload::Kind;
use icr_proto::pb::{
    AccessReviewed, AuthorizeAtRequest, AuthorizeAtResponse, GetAccessReportRequest,
    GetAccessReportResponse, GetLogHeadsRequest, GetLogHeadsResponse, ListCheckpointsRequest,
    ListCheckpointsResponse, ListReviewQueueRequest, ListReviewQueueResponse, ReadDecisionsRequest,
    ReadDecisionsResponse, ReadEventsRequest, ReadEventsResponse, RecheckDecisionRequest,
    RecheckDecisionResponse, RecordAccessReviewRequest, RecordAccessReviewResponse, ReviewOutcome,
};
use tonic::{Request, Response, Status};

use super::Api;
use super::replay::{self, Replay};
use super::servers::Handle;
use super::write::{Proposal, WriteRequest, envelopes, payload};
use crate::Storage;
use crate::status::ServiceResult;
use crate::validate;
use crate::validate::limits::{DEFAULT_PAGE, MAX_NOTE, MAX_PAGE};

mod plans;

envelopes! {
    // A review's stream is its decision's; the request names no version.
    RecordAccessReviewRequest: "RecordAccessReview" => RecordAccessReviewResponse, unversioned;
}

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

impl<L: Storage> Handle<L> {
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

#[tonic::async_trait]
impl<L: Storage> AuditService for Handle<L> {
    type ReadEventsStream = Replay<ReadEventsResponse>;
    type ReadDecisionsStream = Replay<ReadDecisionsResponse>;

    async fn read_events(
        &self,
        request: Request<ReadEventsRequest>,
    ) -> Result<Response<Self::ReadEventsStream>, Status> {
        let plan = self.event_plan(request.into_inner()).await?;
        Ok(Response::new(replay::start(plan, plans::event_shape())))
    }

    async fn read_decisions(
        &self,
        request: Request<ReadDecisionsRequest>,
    ) -> Result<Response<Self::ReadDecisionsStream>, Status> {
        let plan = self.decision_plan(request.into_inner()).await?;
        Ok(Response::new(replay::start(plan, plans::decision_shape())))
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

impl WriteRequest for RecordAccessReviewRequest {
    /// Reviews an access from the queue: its decision must be in the audit
    /// trail, due for review, and made by someone else.
    async fn propose<'a, L: Storage>(&mut self, api: &'a Api<L>) -> ServiceResult<Proposal<'a>> {
        validate::id("request_id", &self.request_id)?;
        validate::id("user_id", &self.user_id)?;
        validate::id("decision_id", &self.decision_id)?;
        let outcome = match ReviewOutcome::try_from(self.outcome) {
            Ok(ReviewOutcome::Unspecified) | Err(_) => {
                let message = "must be JUSTIFIED, NOT_JUSTIFIED or REFERRED";
                return Err(FieldError::new("outcome", message).into());
            }
            Ok(outcome) => outcome,
        };
        if self.note.is_empty() && outcome != ReviewOutcome::Justified {
            let message = "must say what was found unless the access was justified";
            return Err(FieldError::new("note", message).into());
        }
        if !self.note.is_empty() {
            identifier("note", &self.note, MAX_NOTE)?;
        }

        let Some(record) = api.log.find_decision(&self.decision_id).await? else {
            let message = format!("no decision {} is in the audit trail", self.decision_id);
            return Err(CommandError::FailedPrecondition(message).into());
        };
        if record.user_id == self.user_id {
            let message = "the person who made an access cannot review it";
            return Err(CommandError::FailedPrecondition(message.into()).into());
        }
        if record.review_due_by.is_none() {
            let message = "this decision needs no review: it was not an allowed break-glass or \
                           self-claimed access";
            return Err(CommandError::FailedPrecondition(message.into()).into());
        }
        Ok(Proposal::of(payload(Kind::AccessReviewed(
            AccessReviewed {
                decision_id: self.decision_id.clone(),
                audit_position: record.audit_position,
                outcome: outcome.into(),
                note: self.note.clone(),
            },
        ))))
    }
}

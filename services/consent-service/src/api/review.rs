//! The review queue: exceptional accesses (break glass, self-claimed
//! relationships) awaiting a privacy officer, and the reviews recorded as
//! `AccessReviewed` events on stream `review/<decision id>`: referrals until
//! one final outcome (justified or not justified).

use icr_events::codes::identifier;
use icr_events::{CommandError, FieldError, StreamId};
use icr_proto::pb::event_payload::Kind;
use icr_proto::pb::{
    AccessReview, AccessReviewed, EventPayload, ListReviewQueueRequest, ListReviewQueueResponse,
    RecordAccessReviewRequest, ReviewItem, ReviewOutcome, WriteResult,
};
use tonic::metadata::MetadataMap;

use super::audit::{page_size, page_token};
use super::replay::PAGE;
use super::{Api, WriteParts};
use crate::Storage;
use crate::status::ServiceResult;
use crate::validate;

use crate::validate::limits::MAX_NOTE;

impl<L: Storage> Api<L> {
    /// The latest review recorded for a decision, if any.
    async fn review_of(&self, decision_id: &str) -> ServiceResult<Option<AccessReview>> {
        let stream = StreamId::Review(decision_id.to_owned()).to_string();
        let durable = *self.log.subscribe().borrow();
        let events = self.log.read_stream(&stream, 1).await?;
        let durable = events.into_iter().filter(|e| e.position <= durable);
        Ok(durable.rev().find_map(|event| {
            let Some(Kind::AccessReviewed(reviewed)) = event.payload?.kind else {
                return None;
            };
            Some(AccessReview {
                reviewer: event.actor,
                outcome: reviewed.outcome,
                note: reviewed.note,
                reviewed_at: event.recorded_at,
                event_position: event.position,
            })
        }))
    }

    /// Accesses due for review, oldest first; reviewed ones only when asked.
    pub(crate) async fn review_queue(
        &self,
        req: ListReviewQueueRequest,
    ) -> ServiceResult<ListReviewQueueResponse> {
        let limit = page_size("page_size", req.page_size)?;
        let mut from = page_token("page_token", &req.page_token)?;
        let mut items = Vec::with_capacity(limit);
        loop {
            let records = self.log.review_decisions(from, PAGE).await?;
            let Some(last) = records.last() else {
                return Ok(ListReviewQueueResponse {
                    items,
                    next_page_token: String::new(),
                });
            };
            let after = last.audit_position + 1;
            for record in records {
                let review = self.review_of(&record.decision_id).await?;
                // A referral awaits its final outcome: still in the queue.
                let done = review
                    .as_ref()
                    .is_some_and(|r| r.outcome != ReviewOutcome::Referred as i32);
                if done && !req.include_reviewed {
                    continue;
                }
                if items.len() == limit {
                    return Ok(ListReviewQueueResponse {
                        items,
                        next_page_token: record.audit_position.to_string(),
                    });
                }
                items.push(ReviewItem {
                    decision: Some(record),
                    review,
                });
            }
            from = after;
        }
    }

    /// Records a privacy officer's review of one access from the queue.
    pub(crate) async fn record_review(
        &self,
        metadata: &MetadataMap,
        mut req: RecordAccessReviewRequest,
    ) -> ServiceResult<WriteResult> {
        let request_id = std::mem::take(&mut req.request_id);
        validate::id("request_id", &request_id)?;
        validate::id("user_id", &req.user_id)?;
        validate::id("decision_id", &req.decision_id)?;
        let outcome = match ReviewOutcome::try_from(req.outcome) {
            Ok(ReviewOutcome::Unspecified) | Err(_) => {
                let message = "must be JUSTIFIED, NOT_JUSTIFIED or REFERRED";
                return Err(FieldError::new("outcome", message).into());
            }
            Ok(outcome) => outcome,
        };
        if req.note.is_empty() && outcome != ReviewOutcome::Justified {
            let message = "must say what was found unless the access was justified";
            return Err(FieldError::new("note", message).into());
        }
        if !req.note.is_empty() {
            identifier("note", &req.note, MAX_NOTE)?;
        }

        let Some(record) = self.log.find_decision(&req.decision_id).await? else {
            let message = format!("no decision {} is in the audit trail", req.decision_id);
            return Err(CommandError::FailedPrecondition(message).into());
        };
        if record.user_id == req.user_id {
            let message = "the person who made an access cannot review it";
            return Err(CommandError::FailedPrecondition(message.into()).into());
        }
        if record.review_due_by.is_none() {
            let message = "this decision needs no review: it was not an allowed break-glass or \
                           self-claimed access";
            return Err(CommandError::FailedPrecondition(message.into()).into());
        }
        let payload = EventPayload {
            kind: Some(Kind::AccessReviewed(AccessReviewed {
                decision_id: req.decision_id.clone(),
                audit_position: record.audit_position,
                outcome: outcome.into(),
                note: req.note.clone(),
            })),
        };
        let parts = WriteParts {
            rpc: "RecordAccessReview",
            metadata,
            user_id: &req.user_id,
            on_behalf_of: "",
            expected_version: None,
        };
        self.write(parts, request_id, &req, payload).await
    }
}

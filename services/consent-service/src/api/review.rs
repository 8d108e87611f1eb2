//! The review queue: exceptional accesses (break glass, self-claimed
//! relationships) awaiting a privacy officer, and the reviews recorded as
//! `AccessReviewed` events (proposed in `audit`, beside the AuditService
//! methods) on stream `review/<decision id>`: referrals until one final
//! outcome (justified or not justified).

use icr_events::StreamId;
use icr_proto::pb::event_payload::Kind;
use icr_proto::pb::{
    AccessReview, ListReviewQueueRequest, ListReviewQueueResponse, ReviewItem, ReviewOutcome,
};

use super::Api;
use super::audit::{page_size, page_token};
use super::replay::PAGE;
use crate::Storage;
use crate::status::ServiceResult;

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
}

//! `audit review-queue` and `audit review`: exceptional accesses (break
//! glass, self-claimed relationships) and a privacy officer's review of
//! each, recorded as an event.

use anyhow::{Result, bail};
use clap::Args;
use icr_proto::pb::audit_service_client::AuditServiceClient;
use icr_proto::pb::{
    AccessMode, ListReviewQueueRequest, RecordAccessReviewRequest, RecordSection, ReviewItem,
    ReviewOutcome, WriteResult,
};
use serde_json::{Value, json};
use tonic::transport::Channel;

use crate::caller::Caller;
use crate::dates;
use crate::failure::CallContext;
use crate::names;
use crate::output::Output;
use crate::write::{self, WriteOptions};

/// Items per page when reading the whole queue: the most the service allows.
const FULL_PAGE: u32 = 1000;

/// Arguments of `audit review-queue`.
#[derive(Args, Debug, Clone)]
pub(crate) struct QueueArgs {
    /// Also list accesses already reviewed, with their review.
    #[arg(long)]
    pub(crate) all: bool,
}

/// Arguments of `audit review`.
#[derive(Args, Debug, Clone)]
pub(crate) struct ReviewArgs {
    /// Decision id of the access, from `audit review-queue`.
    #[arg(value_name = "DECISION_ID")]
    pub(crate) decision_id: String,
    /// What the review found.
    #[arg(long, value_name = "OUTCOME", value_parser = names::parser::<ReviewOutcome>())]
    pub(crate) outcome: ReviewOutcome,
    /// What the reviewer found; required unless the outcome is justified.
    #[arg(long, value_name = "TEXT")]
    pub(crate) note: Option<String>,
    #[command(flatten)]
    pub(crate) write: WriteOptions,
}

/// Columns of the queue.
const QUEUE_FIELDS: &[&str] = &[
    "decision_id",
    "recorded_at",
    "due_by",
    "user_id",
    "organisation_ods",
    "nhs_number",
    "section",
    "access_mode",
    "access_reason",
    "review",
    "reviewer",
    "note",
];

/// Reads the whole queue, oldest first.
pub(crate) async fn review_queue(
    channel: Channel,
    caller: &Caller,
    include_reviewed: bool,
) -> Result<Vec<ReviewItem>> {
    let mut client = AuditServiceClient::new(channel);
    let mut items = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = ListReviewQueueRequest {
            page_size: FULL_PAGE,
            page_token,
            include_reviewed,
        };
        let page = client
            .list_review_queue(caller.request(request))
            .await
            .map_err(|status| CallContext::read().rejected(status))?
            .into_inner();
        items.extend(page.items);
        if page.next_page_token.is_empty() {
            return Ok(items);
        }
        page_token = page.next_page_token;
    }
}

/// Runs `audit review-queue`.
pub(crate) async fn run_queue(
    channel: Channel,
    caller: &Caller,
    args: &QueueArgs,
    output: Output,
) -> Result<()> {
    let items = review_queue(channel, caller, args.all).await?;
    let records: Vec<Value> = items.iter().map(queue_record).collect();
    output.records(QUEUE_FIELDS, &records)?;
    Ok(())
}

/// One access in the queue, and its review once there is one.
fn queue_record(item: &ReviewItem) -> Value {
    let decision = item.decision.clone().unwrap_or_default();
    let review = item.review.as_ref();
    let reviewer = review
        .and_then(|review| review.reviewer.as_ref())
        .map(|actor| format!("{}/{}", actor.calling_system, actor.user_id));
    json!({
        "decision_id": decision.decision_id,
        "recorded_at": dates::format_timestamp(decision.recorded_at.as_ref()),
        "due_by": dates::format_timestamp(decision.review_due_by.as_ref()),
        "user_id": decision.user_id,
        "role_code": decision.role_code,
        "organisation_ods": decision.organisation_ods,
        "nhs_number": decision.nhs_number,
        "section": names::short_name_of::<RecordSection>(decision.section),
        "access_mode": names::short_name_of::<AccessMode>(decision.access_mode),
        "access_reason": decision.access_reason,
        "audit_position": decision.audit_position,
        "review": review.map_or_else(
            || "awaiting".to_owned(),
            |review| names::short_name_of::<ReviewOutcome>(review.outcome),
        ),
        "reviewer": reviewer,
        "note": review.map(|review| review.note.as_str()),
        "reviewed_at": review.and_then(|review| dates::format_timestamp(review.reviewed_at.as_ref())),
        "review_position": review.map(|review| review.event_position),
    })
}

/// Records the review.
pub(crate) async fn record_review(
    channel: Channel,
    caller: &Caller,
    args: &ReviewArgs,
) -> Result<WriteResult> {
    let note = args.note.clone().unwrap_or_default();
    if args.outcome != ReviewOutcome::Justified && note.trim().is_empty() {
        bail!(
            "--note is required when the outcome is {}: say what the review found",
            names::short_name(args.outcome)
        );
    }
    let request_id = &args.write.request_id;
    let request = RecordAccessReviewRequest {
        request_id: request_id.clone(),
        decision_id: args.decision_id.clone(),
        outcome: args.outcome.into(),
        note,
        user_id: caller.user_id(),
    };
    let call = CallContext::review_write(request_id, &args.decision_id);
    let response = AuditServiceClient::new(channel)
        .record_access_review(caller.request(request))
        .await
        .map_err(|status| call.rejected(status))?;
    write::written(response.into_inner().result)
}

/// Runs `audit review` and prints its receipt.
pub(crate) async fn run_review(
    channel: Channel,
    caller: &Caller,
    args: &ReviewArgs,
    output: Output,
) -> Result<()> {
    let result = record_review(channel, caller, args).await?;
    write::print_receipt(output, &result, &args.write.request_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use icr_proto::pb::{AccessReview, Actor, DecisionRecord};

    #[test]
    fn an_item_says_whether_it_awaits_review() {
        let waiting = ReviewItem {
            decision: Some(DecisionRecord {
                decision_id: "01JBREAK".to_owned(),
                access_mode: AccessMode::BreakGlass.into(),
                ..DecisionRecord::default()
            }),
            review: None,
        };
        let record = queue_record(&waiting);
        assert_eq!(record["review"], "awaiting");
        assert_eq!(record["access_mode"], "break_glass");
        let reviewed = ReviewItem {
            review: Some(AccessReview {
                reviewer: Some(Actor {
                    calling_system: "consent-cli".to_owned(),
                    user_id: "privacy-1".to_owned(),
                    on_behalf_of: String::new(),
                }),
                outcome: ReviewOutcome::NotJustified.into(),
                note: "no care given".to_owned(),
                ..AccessReview::default()
            }),
            ..waiting
        };
        let record = queue_record(&reviewed);
        assert_eq!(record["review"], "not_justified");
        assert_eq!(record["reviewer"], "consent-cli/privacy-1");
    }
}

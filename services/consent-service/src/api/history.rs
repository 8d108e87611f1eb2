//! Point-in-time decisions: the same question asked of the log as it stood
//! at a past instant or position, with today's model and rules. Nothing here
//! is an access, so nothing is recorded in the decision audit.

use icr_decision::Engine;
use icr_events::codes::section;
use icr_events::{CommandError, FieldError, timestamp_from_proto, timestamp_to_proto};
use icr_projections::Projections;
use icr_proto::pb::authorize_at_request::At;
use icr_proto::pb::{
    AccessMode, AuthorizeAtRequest, AuthorizeAtResponse, Decision, DecisionRecord, Purpose,
    RecheckDecisionRequest, RecheckDecisionResponse, RecordSection, Requester,
};

use super::Api;
use super::decisions::{Asked, Question, asked, evaluate, question};
use crate::Storage;
use crate::status::{ServiceError, ServiceResult};
use crate::validate;

/// Events folded per read while rebuilding.
const REBUILD_PAGE: usize = 1024;

impl<L: Storage> Api<L> {
    /// Projections folded from the start of the log up to `position`, and
    /// an engine built from their policy (`None` when it cannot be built:
    /// every decision is then a deny, as it would be live).
    async fn rebuilt_at(&self, position: u64) -> ServiceResult<(Projections, Option<Engine>)> {
        let mut projections = Projections::default();
        while projections.position() < position {
            let at = projections.position();
            let want = usize::try_from(position - at).map_or(REBUILD_PAGE, |n| n.min(REBUILD_PAGE));
            let events = self.log.read_from(at + 1, want).await?;
            // The position is at most the durable head, and durable events
            // are never removed: a shorter log, or one that does not fold,
            // is broken, and a retry would meet it again.
            if events.is_empty() {
                let what = format!("the log ends at {at}, before position {position}");
                return Err(ServiceError::bug(what, format!("log position {position}")));
            }
            for event in events.iter().take_while(|e| e.position <= position) {
                projections.apply(event).map_err(|e| {
                    let what = format!(
                        "the stored event at position {} does not fold: {e}",
                        event.position
                    );
                    ServiceError::bug(what, format!("log position {}", event.position))
                })?;
            }
            // A long fold must not hold a worker that live decisions need.
            tokio::task::yield_now().await;
        }
        let policy = projections.policy().policy_set();
        let engine = Engine::build(&self.files.model, &self.files.rules, &policy)
            .await
            .ok();
        Ok((projections, engine))
    }

    /// One section decided at `position`, as at `now`.
    async fn decide_at(
        &self,
        q: &Question<'_>,
        s: RecordSection,
        position: u64,
        now: jiff::Timestamp,
    ) -> ServiceResult<Decision> {
        let (projections, engine) = self.rebuilt_at(position).await?;
        let mut evaluated = evaluate(q, &[s], &projections, engine.as_ref(), now);
        evaluated.decisions.pop().ok_or_else(|| {
            ServiceError::bug("no decision was made", format!("log position {position}"))
        })
    }

    /// The last durable position at or before `at`.
    async fn position_at(&self, at: jiff::Timestamp) -> ServiceResult<u64> {
        let after = at
            .checked_add(jiff::SignedDuration::from_nanos(1))
            .unwrap_or(at);
        let first_after = self
            .log
            .first_position_since(timestamp_to_proto(after))
            .await?;
        Ok(first_after - 1)
    }

    pub(crate) async fn authorize_at(
        &self,
        mut req: AuthorizeAtRequest,
    ) -> ServiceResult<AuthorizeAtResponse> {
        let asked = validate::present("request", req.request.as_mut())?;
        let empty = tonic::metadata::MetadataMap::new();
        // Asked of the past, it waits for no position.
        let q = question(Asked {
            min_log_position: 0,
            ..asked!(asked, &empty)
        })
        .map_err(|e| within("request", e))?;
        let s = section("request.section", asked.section)?;
        let head = *self.log.subscribe().borrow();
        let (position, now) = match req.at {
            None => return Err(FieldError::new("at", "must give at_time or at_position").into()),
            Some(At::AtTime(ts)) => {
                let now = timestamp_from_proto(&ts)
                    .ok_or_else(|| FieldError::new("at_time", "is not a valid instant"))?;
                if now > jiff::Timestamp::now() {
                    return Err(FieldError::new("at_time", "is in the future").into());
                }
                (self.position_at(now).await?, now)
            }
            Some(At::AtPosition(position)) => {
                if position == 0 || position > head {
                    let message = format!("must be between 1 and the log head {head}");
                    return Err(FieldError::new("at_position", message).into());
                }
                let event = self.log.read_from(position, 1).await?;
                let now = event
                    .first()
                    .and_then(|e| e.recorded_at.as_ref())
                    .and_then(timestamp_from_proto)
                    .ok_or_else(|| {
                        let what = "the stored event's time is unreadable";
                        ServiceError::bug(what, format!("log position {position}"))
                    })?;
                (position, now)
            }
        };
        let decision = self.decide_at(&q, s, position, now).await?;
        Ok(AuthorizeAtResponse {
            decision: Some(decision),
            evaluated_at: Some(timestamp_to_proto(now)),
        })
    }

    pub(crate) async fn recheck(
        &self,
        req: RecheckDecisionRequest,
    ) -> ServiceResult<RecheckDecisionResponse> {
        validate::id("decision_id", &req.decision_id)?;
        let Some(recorded) = self.log.find_decision(&req.decision_id).await? else {
            let message = format!("no decision {} is in the audit trail", req.decision_id);
            return Err(CommandError::FailedPrecondition(message).into());
        };
        let requester = Requester {
            user_id: recorded.user_id.clone(),
            role_code: recorded.role_code.clone(),
            organisation_ods: recorded.organisation_ods.clone(),
        };
        let unreadable = || {
            let report = format!("decision id {}", req.decision_id);
            ServiceError::bug("the recorded decision is unreadable", report)
        };
        let q = Question {
            nhs_number: recorded.nhs_number.parse().map_err(|_| unreadable())?,
            requester: &requester,
            purpose: Purpose::try_from(recorded.purpose).map_err(|_| unreadable())?,
            source_organisation_ods: &recorded.source_organisation_ods,
            access_mode: AccessMode::try_from(recorded.access_mode).map_err(|_| unreadable())?,
            access_reason: &recorded.access_reason,
            min_log_position: 0,
            calling_system: recorded.calling_system.clone(),
        };
        let s = RecordSection::try_from(recorded.section).map_err(|_| unreadable())?;
        let now = recorded
            .evaluated_at
            .or(recorded.recorded_at)
            .as_ref()
            .and_then(timestamp_from_proto)
            .ok_or_else(unreadable)?;
        let recheck = self.decide_at(&q, s, recorded.log_position, now).await?;
        let differences = differences(&recorded, &recheck);
        Ok(RecheckDecisionResponse {
            agrees: differences.is_empty(),
            differences,
            recorded: Some(recorded),
            recheck: Some(recheck),
        })
    }
}

/// Prefixes a field error with the name of the message it is in.
fn within(parent: &str, error: ServiceError) -> ServiceError {
    match error {
        ServiceError::Field(e) => {
            FieldError::new(format!("{parent}.{}", e.field), e.message).into()
        }
        other => other,
    }
}

/// What differs between a recorded decision and its re-check.
fn differences(recorded: &DecisionRecord, recheck: &Decision) -> Vec<String> {
    let mut differences = Vec::new();
    let allowed = recheck.outcome == icr_proto::pb::Outcome::Allow as i32;
    if recorded.allowed != allowed {
        differences.push(format!(
            "outcome: recorded {}, now {}",
            if recorded.allowed { "allow" } else { "deny" },
            if allowed { "allow" } else { "deny" }
        ));
    }
    if recorded.reason != recheck.reason {
        differences.push(format!(
            "reason: recorded {}, now {}",
            recorded.reason, recheck.reason
        ));
    }
    let mut was = recorded.obligations.clone();
    let mut now: Vec<String> = recheck.obligations.iter().map(|o| o.kind.clone()).collect();
    was.sort();
    now.sort();
    if was != now {
        differences.push(format!(
            "obligations: recorded [{}], now [{}]",
            was.join(", "),
            now.join(", ")
        ));
    }
    differences
}

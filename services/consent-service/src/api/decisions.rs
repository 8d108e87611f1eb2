//! AccessDecisionService: Authorize and AuthorizeBatch.

use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::Storage;
use icr_decision::{AccessRequest, Engine, Reason, Verdict, explain};
use icr_events::codes::{purpose_name, section, section_name};
use icr_events::{FieldError, timestamp_to_proto};
use icr_projections::{FactQuery, Projections, RequestFacts};
use icr_proto::pb::access_decision_service_server::AccessDecisionService;
use icr_proto::pb::{
    AccessMode, AuthorizeBatchRequest, AuthorizeBatchResponse, AuthorizeRequest, AuthorizeResponse,
    Decision, DecisionRecord, Obligation, Outcome, Purpose, RecordSection,
};
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status};
use ulid::Ulid;

mod question;

use question::speaks_for;
pub(crate) use question::{Asked, Question, asked, question};

use super::Api;
use super::servers::Handle;
use crate::status::ServiceResult;

use crate::validate::limits::MAX_BATCH_SECTIONS;

/// Reason given when no engine could be built from the current policy.
const POLICY_UNAVAILABLE: &str = "policy_unavailable";

/// The obligation kind that puts an allowed access in the review queue.
const REVIEW: &str = "review";

/// What an allow obliges the viewer to do: exceptional access is flagged
/// and reviewed; secondary use sees pseudonymised data where the region says so.
fn obligations(q: &Question<'_>, facts: &RequestFacts) -> Vec<Obligation> {
    let review = || Obligation {
        kind: REVIEW.into(),
        detail: format!(
            "review this access within {} days",
            facts.review_within_days
        ),
    };
    let mut obligations = Vec::new();
    match q.access_mode {
        AccessMode::BreakGlass => {
            obligations.push(Obligation {
                kind: "display_break_glass_banner".into(),
                detail: "show that this is emergency access and that it will be reviewed".into(),
            });
            obligations.push(review());
        }
        AccessMode::SelfClaimedRelationship => obligations.push(review()),
        AccessMode::Normal | AccessMode::Unspecified => {}
    }
    if q.purpose == Purpose::SecondaryUse && facts.pseudonymise {
        obligations.push(Obligation {
            kind: "pseudonymise".into(),
            detail: "release only pseudonymised data for secondary use".into(),
        });
    }
    obligations
}

fn decision(
    section: RecordSection,
    verdict: Verdict,
    position: u64,
    obligations: &[Obligation],
    facts: &RequestFacts,
) -> Decision {
    let outcome = if verdict.allowed {
        Outcome::Allow
    } else {
        Outcome::Deny
    };
    Decision {
        decision_id: String::new(),
        section: section.into(),
        outcome: outcome.into(),
        obligations: if verdict.allowed {
            obligations.to_vec()
        } else {
            Vec::new()
        },
        reason: verdict.reason,
        explanation: verdict.explanation,
        log_position: position,
        policy_lines: verdict.policy_lines,
        event_positions: facts.sources.clone(),
    }
}

/// The audit trail's copy of one decision. An allow with a review
/// obligation is due for review `review_within_days` after it.
fn audit_record(
    q: &Question<'_>,
    d: &Decision,
    now: jiff::Timestamp,
    review_within_days: u32,
) -> DecisionRecord {
    let needs_review = d.obligations.iter().any(|o| o.kind == REVIEW);
    let review_due_by = needs_review.then(|| {
        let period = jiff::SignedDuration::from_hours(24 * i64::from(review_within_days));
        timestamp_to_proto(now.saturating_add(period).unwrap_or(now))
    });
    DecisionRecord {
        audit_position: 0,
        decision_id: d.decision_id.clone(),
        recorded_at: Some(timestamp_to_proto(now)),
        calling_system: q.calling_system.clone(),
        user_id: q.requester.user_id.clone(),
        role_code: q.requester.role_code.clone(),
        organisation_ods: q.requester.organisation_ods.clone(),
        nhs_number: q.nhs_number.to_string(),
        section: d.section,
        purpose: q.purpose.into(),
        access_mode: q.access_mode.into(),
        access_reason: q.access_reason.to_owned(),
        source_organisation_ods: q.source_organisation_ods.to_owned(),
        allowed: d.outcome == Outcome::Allow as i32,
        reason: d.reason.clone(),
        obligations: d.obligations.iter().map(|o| o.kind.clone()).collect(),
        log_position: d.log_position,
        chain_hash: Vec::new(),
        review_due_by,
        evaluated_at: Some(timestamp_to_proto(now)),
    }
}

/// Decisions for each section, and the region's review period.
pub(crate) struct Evaluated {
    /// One per section asked, without decision ids.
    pub(crate) decisions: Vec<Decision>,
    /// Days within which exceptional access must be reviewed.
    pub(crate) review_within_days: u32,
}

/// Decides every section against one consistent state, as at `now`.
/// A panic while deciding (a bug, in casbin or in the facts) is a deny with
/// its own reason.
pub(crate) fn evaluate(
    q: &Question<'_>,
    sections: &[RecordSection],
    projections: &Projections,
    engine: Option<&Engine>,
    now: jiff::Timestamp,
) -> Evaluated {
    let evaluated = catch_unwind(AssertUnwindSafe(|| {
        evaluate_sections(q, sections, projections, engine, now)
    }));
    evaluated.unwrap_or_else(|_| {
        tracing::error!("deciding panicked; denying");
        panicked(sections, projections.position())
    })
}

/// [`evaluate`], letting a panic through.
fn evaluate_sections(
    q: &Question<'_>,
    sections: &[RecordSection],
    projections: &Projections,
    engine: Option<&Engine>,
    now: jiff::Timestamp,
) -> Evaluated {
    let position = projections.position();
    let request_facts = projections.facts(&FactQuery {
        nhs_number: &q.nhs_number,
        purpose: q.purpose,
        role_code: &q.requester.role_code,
        organisation_ods: &q.requester.organisation_ods,
        source_organisation_ods: q.source_organisation_ods,
        access_mode: q.access_mode,
        access_reason: q.access_reason,
        now,
    });
    let obligations = obligations(q, &request_facts);
    let purpose = purpose_name(q.purpose);
    let decisions = sections
        .iter()
        .map(|&s| {
            let section = section_name(s);
            let request = AccessRequest {
                role_code: &q.requester.role_code,
                section: &section,
                purpose: &purpose,
                organisation_ods: &q.requester.organisation_ods,
                patient_region: &request_facts.patient_region,
            };
            let verdict = match engine {
                Some(engine) => engine.decide(&request, &request_facts.facts),
                None => Verdict {
                    allowed: false,
                    reason: POLICY_UNAVAILABLE.into(),
                    explanation: explain(POLICY_UNAVAILABLE),
                    policy_lines: Vec::new(),
                },
            };
            decision(s, verdict, position, &obligations, &request_facts)
        })
        .collect();
    Evaluated {
        decisions,
        review_within_days: request_facts.review_within_days,
    }
}

/// Denies every section because deciding panicked.
fn panicked(sections: &[RecordSection], position: u64) -> Evaluated {
    let reason = Reason::EvaluationPanicked.as_str();
    let decisions = sections
        .iter()
        .map(|&s| Decision {
            section: s.into(),
            outcome: Outcome::Deny.into(),
            reason: reason.to_owned(),
            explanation: explain(reason),
            log_position: position,
            ..Decision::default()
        })
        .collect();
    Evaluated {
        decisions,
        review_within_days: 0,
    }
}

impl<L: Storage> Api<L> {
    /// Decides every section against one consistent view: the facts and the
    /// engine come from the same log position.
    async fn decide(
        &self,
        q: Question<'_>,
        sections: &[RecordSection],
    ) -> ServiceResult<Vec<Decision>> {
        self.caught_up(q.min_log_position).await?;
        let now = jiff::Timestamp::now();
        // A panic while deciding (a bug, in casbin or in the facts) is a
        // deny with its own reason, recorded like any other decision; the
        // view's read lock is not poisoned by a reader's panic.
        let evaluated = catch_unwind(AssertUnwindSafe(|| {
            self.view.read(|projections, engine: Option<&Engine>| {
                evaluate_sections(&q, sections, projections, engine, now)
            })
        }));
        let Evaluated {
            mut decisions,
            review_within_days,
        } = evaluated.unwrap_or_else(|_| {
            tracing::error!("deciding panicked; denying");
            panicked(sections, self.view.position().unwrap_or_default())
        });
        for d in &mut decisions {
            d.decision_id = Ulid::new().to_string();
        }
        // The decision audit is the record of every decision; this line is
        // for debugging only (at INFO it cost about 5 % of an Authorize's CPU
        // under load, and it repeated the audit on the operator's console).
        if tracing::enabled!(tracing::Level::DEBUG) {
            for d in &decisions {
                let section =
                    RecordSection::try_from(d.section).map_or_else(|_| String::new(), section_name);
                tracing::debug!(
                    decision_id = %d.decision_id,
                    user = %q.requester.user_id,
                    role = %q.requester.role_code,
                    organisation = %q.requester.organisation_ods,
                    %section,
                    allowed = d.outcome == Outcome::Allow as i32,
                    access_mode = q.access_mode.as_str_name(),
                    access_reason = %q.access_reason,
                    reason = %d.reason,
                    position = d.log_position,
                    "access decision"
                );
            }
        }
        // Every answer, allow or deny, is in the audit trail before it is
        // given: if it cannot be recorded, the viewer gets an error, never an
        // unrecorded allow.
        let records = decisions
            .iter()
            .map(|d| audit_record(&q, d, now, review_within_days))
            .collect();
        self.log.record(records).await?;
        self.metrics.decided(&decisions);
        Ok(decisions)
    }

    /// Refuses a caller that does not speak for the requester, then decides.
    async fn authorize(
        &self,
        extensions: &tonic::Extensions,
        metadata: &MetadataMap,
        mut req: AuthorizeRequest,
    ) -> ServiceResult<AuthorizeResponse> {
        speaks_for(extensions, req.requester.as_ref())?;
        let q = question(asked!(req, metadata))?;
        let s = section("section", req.section)?;
        let mut decisions = self.decide(q, &[s]).await?;
        Ok(AuthorizeResponse {
            decision: decisions.pop(),
        })
    }

    /// [`Api::authorize`] for several sections at once.
    async fn authorize_batch(
        &self,
        extensions: &tonic::Extensions,
        metadata: &MetadataMap,
        mut req: AuthorizeBatchRequest,
    ) -> ServiceResult<AuthorizeBatchResponse> {
        speaks_for(extensions, req.requester.as_ref())?;
        let q = question(asked!(req, metadata))?;
        if req.sections.is_empty() || req.sections.len() > MAX_BATCH_SECTIONS {
            let message = format!("must list 1 to {MAX_BATCH_SECTIONS} sections");
            return Err(FieldError::new("sections", message).into());
        }
        let sections = req
            .sections
            .iter()
            .enumerate()
            .map(|(i, &s)| section(&format!("sections[{i}]"), s))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(AuthorizeBatchResponse {
            decisions: self.decide(q, &sections).await?,
        })
    }
}

#[tonic::async_trait]
impl<L: Storage> AccessDecisionService for Handle<L> {
    async fn authorize(
        &self,
        request: Request<AuthorizeRequest>,
    ) -> Result<Response<AuthorizeResponse>, Status> {
        let (metadata, extensions, req) = request.into_parts();
        let answer = async { Ok(self.0.authorize(&extensions, &metadata, req).await?) };
        let answer = self.0.metrics.authorize_timed("Authorize", answer).await;
        Ok(Response::new(answer?))
    }

    async fn authorize_batch(
        &self,
        request: Request<AuthorizeBatchRequest>,
    ) -> Result<Response<AuthorizeBatchResponse>, Status> {
        let (metadata, extensions, req) = request.into_parts();
        let answer = async { Ok(self.0.authorize_batch(&extensions, &metadata, req).await?) };
        let answer = self.0.metrics.authorize_timed("AuthorizeBatch", answer);
        let answer = answer.await;
        Ok(Response::new(answer?))
    }
}

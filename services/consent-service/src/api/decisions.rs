//! AccessDecisionService: Authorize and AuthorizeBatch.

use crate::Storage;
use icr_decision::{AccessRequest, Engine, Verdict, explain};
use icr_events::codes::{
    identifier, ods_code, purpose, purpose_name, role_code, section, section_name,
};
use icr_events::{FieldError, timestamp_to_proto};
use icr_projections::{FactQuery, Projections, RequestFacts};
use icr_proto::pb::access_decision_service_server::AccessDecisionService;
use icr_proto::pb::{
    AccessMode, AuthorizeBatchRequest, AuthorizeBatchResponse, AuthorizeRequest, AuthorizeResponse,
    Decision, DecisionRecord, Obligation, Outcome, Purpose, RecordSection, Requester,
};
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status};
use ulid::Ulid;

use super::Api;
use super::servers::Handle;
use crate::status::ServiceResult;
use crate::validate;
use crate::writes::calling_system;

use crate::validate::limits::{MAX_BATCH_SECTIONS, MAX_REASON};

/// Reason given when no engine could be built from the current policy.
const POLICY_UNAVAILABLE: &str = "policy_unavailable";

/// The obligation kind that puts an allowed access in the review queue.
const REVIEW: &str = "review";

/// A validated access question about one patient, for one or more sections.
pub(crate) struct Question<'a> {
    pub(crate) nhs_number: icr_events::NhsNumber,
    pub(crate) requester: &'a Requester,
    pub(crate) purpose: Purpose,
    pub(crate) source_organisation_ods: &'a str,
    pub(crate) access_mode: AccessMode,
    pub(crate) access_reason: &'a str,
    pub(crate) min_log_position: u64,
    pub(crate) calling_system: String,
}

/// The fields AuthorizeRequest and AuthorizeBatchRequest share.
pub(crate) struct Asked<'a> {
    pub(crate) nhs_number: &'a str,
    pub(crate) requester: Option<&'a Requester>,
    pub(crate) purpose: i32,
    pub(crate) source_organisation_ods: &'a str,
    pub(crate) access_mode: i32,
    pub(crate) access_reason: &'a str,
    pub(crate) min_log_position: u64,
    pub(crate) metadata: &'a MetadataMap,
}

/// Validates the question, naming fields as in the request.
pub(crate) fn question(asked: Asked<'_>) -> ServiceResult<Question<'_>> {
    let calling_system = calling_system(asked.metadata)?;
    let nhs_number = validate::nhs_number("nhs_number", asked.nhs_number)?;
    let requester = validate::present("requester", asked.requester)?;
    validate::id("requester.user_id", &requester.user_id)?;
    role_code("requester.role_code", &requester.role_code)?;
    ods_code("requester.organisation_ods", &requester.organisation_ods)?;
    let purpose = purpose("purpose", asked.purpose)?;
    validate::optional_ods("source_organisation_ods", asked.source_organisation_ods)?;
    // Unspecified is normal access, the most restrictive mode.
    let access_mode = match AccessMode::try_from(asked.access_mode) {
        Ok(AccessMode::Unspecified) => AccessMode::Normal,
        Ok(mode) => mode,
        Err(_) => {
            return Err(FieldError::new(
                "access_mode",
                format!("unknown value {}", asked.access_mode),
            )
            .into());
        }
    };
    if !asked.access_reason.is_empty() {
        identifier("access_reason", asked.access_reason, MAX_REASON)?;
    }
    Ok(Question {
        nhs_number,
        requester,
        purpose,
        source_organisation_ods: asked.source_organisation_ods,
        access_mode,
        access_reason: asked.access_reason,
        min_log_position: asked.min_log_position,
        calling_system,
    })
}

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
pub(crate) fn evaluate(
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
        let Evaluated {
            mut decisions,
            review_within_days,
        } = self.view.read(|projections, engine: Option<&Engine>| {
            evaluate(&q, sections, projections, engine, now)
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
        Ok(decisions)
    }

    async fn authorize(
        &self,
        metadata: &MetadataMap,
        req: AuthorizeRequest,
    ) -> ServiceResult<AuthorizeResponse> {
        let q = question(Asked {
            nhs_number: &req.nhs_number,
            requester: req.requester.as_ref(),
            purpose: req.purpose,
            source_organisation_ods: &req.source_organisation_ods,
            access_mode: req.access_mode,
            access_reason: &req.access_reason,
            min_log_position: req.min_log_position,
            metadata,
        })?;
        let s = section("section", req.section)?;
        let mut decisions = self.decide(q, &[s]).await?;
        Ok(AuthorizeResponse {
            decision: decisions.pop(),
        })
    }

    async fn authorize_batch(
        &self,
        metadata: &MetadataMap,
        req: AuthorizeBatchRequest,
    ) -> ServiceResult<AuthorizeBatchResponse> {
        let q = question(Asked {
            nhs_number: &req.nhs_number,
            requester: req.requester.as_ref(),
            purpose: req.purpose,
            source_organisation_ods: &req.source_organisation_ods,
            access_mode: req.access_mode,
            access_reason: &req.access_reason,
            min_log_position: req.min_log_position,
            metadata,
        })?;
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
        let (metadata, _, req) = request.into_parts();
        Ok(Response::new(self.0.authorize(&metadata, req).await?))
    }

    async fn authorize_batch(
        &self,
        request: Request<AuthorizeBatchRequest>,
    ) -> Result<Response<AuthorizeBatchResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        Ok(Response::new(self.0.authorize_batch(&metadata, req).await?))
    }
}

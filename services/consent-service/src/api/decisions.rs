//! AccessDecisionService: Authorize and AuthorizeBatch.

use icr_decision::{AccessRequest, Engine, explain};
use icr_events::codes::{ods_code, purpose, purpose_name, role_code, section, section_name};
use icr_log::EventLog;
use icr_projections::FactQuery;
use icr_proto::pb::access_decision_service_server::AccessDecisionService;
use icr_proto::pb::{
    AuthorizeBatchRequest, AuthorizeBatchResponse, AuthorizeRequest, AuthorizeResponse, Decision,
    Outcome, RecordSection, Requester,
};
use tonic::{Request, Response, Status};
use ulid::Ulid;

use super::Api;
use super::servers::Handle;
use crate::status::ServiceResult;
use crate::validate;

/// Most sections one AuthorizeBatch may ask about.
pub(crate) const MAX_BATCH_SECTIONS: usize = 64;

/// Reason given when no engine could be built from the current policy.
const POLICY_UNAVAILABLE: &str = "policy_unavailable";

/// A validated access question about one patient, for one or more sections.
struct Question<'a> {
    nhs_number: icr_events::NhsNumber,
    requester: &'a Requester,
    purpose: icr_proto::pb::Purpose,
    source_organisation_ods: &'a str,
    min_log_position: u64,
}

fn question<'a>(
    nhs_number: &str,
    requester: Option<&'a Requester>,
    purpose_value: i32,
    source: &'a str,
    min_log_position: u64,
) -> ServiceResult<Question<'a>> {
    let nhs_number = validate::nhs_number("nhs_number", nhs_number)?;
    let requester = validate::present("requester", requester)?;
    validate::id("requester.user_id", &requester.user_id)?;
    role_code("requester.role_code", &requester.role_code)?;
    ods_code("requester.organisation_ods", &requester.organisation_ods)?;
    let purpose = purpose("purpose", purpose_value)?;
    validate::optional_ods("source_organisation_ods", source)?;
    Ok(Question {
        nhs_number,
        requester,
        purpose,
        source_organisation_ods: source,
        min_log_position,
    })
}

fn decision(
    section: RecordSection,
    allowed: bool,
    reason: String,
    explanation: String,
    position: u64,
) -> Decision {
    let outcome = if allowed {
        Outcome::Allow
    } else {
        Outcome::Deny
    };
    Decision {
        decision_id: Ulid::new().to_string(),
        section: section.into(),
        outcome: outcome.into(),
        reason,
        explanation,
        log_position: position,
    }
}

impl<L: EventLog> Api<L> {
    /// Decides every section against one consistent view: the facts and the
    /// engine come from the same log position.
    async fn decide(
        &self,
        q: Question<'_>,
        sections: &[RecordSection],
    ) -> ServiceResult<Vec<Decision>> {
        self.caught_up(q.min_log_position).await?;
        let now = jiff::Timestamp::now();
        let decisions = self.view.read(|projections, engine: Option<&Engine>| {
            let position = projections.position();
            let request_facts = projections.facts(&FactQuery {
                nhs_number: &q.nhs_number,
                purpose: q.purpose,
                organisation_ods: &q.requester.organisation_ods,
                source_organisation_ods: q.source_organisation_ods,
                now,
            });
            let purpose = purpose_name(q.purpose);
            sections
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
                    match engine {
                        Some(engine) => {
                            let v = engine.decide(&request, &request_facts.facts);
                            decision(s, v.allowed, v.reason, v.explanation, position)
                        }
                        None => decision(
                            s,
                            false,
                            POLICY_UNAVAILABLE.into(),
                            explain(POLICY_UNAVAILABLE),
                            position,
                        ),
                    }
                })
                .collect::<Vec<_>>()
        });
        for d in &decisions {
            let section =
                RecordSection::try_from(d.section).map_or_else(|_| String::new(), section_name);
            tracing::info!(
                decision_id = %d.decision_id,
                user = %q.requester.user_id,
                role = %q.requester.role_code,
                organisation = %q.requester.organisation_ods,
                %section,
                allowed = d.outcome == Outcome::Allow as i32,
                reason = %d.reason,
                position = d.log_position,
                "access decision"
            );
        }
        Ok(decisions)
    }

    async fn authorize(&self, req: AuthorizeRequest) -> ServiceResult<AuthorizeResponse> {
        let q = question(
            &req.nhs_number,
            req.requester.as_ref(),
            req.purpose,
            &req.source_organisation_ods,
            req.min_log_position,
        )?;
        let s = section("section", req.section)?;
        let mut decisions = self.decide(q, &[s]).await?;
        Ok(AuthorizeResponse {
            decision: decisions.pop(),
        })
    }

    async fn authorize_batch(
        &self,
        req: AuthorizeBatchRequest,
    ) -> ServiceResult<AuthorizeBatchResponse> {
        let q = question(
            &req.nhs_number,
            req.requester.as_ref(),
            req.purpose,
            &req.source_organisation_ods,
            req.min_log_position,
        )?;
        if req.sections.is_empty() || req.sections.len() > MAX_BATCH_SECTIONS {
            let message = format!("must list 1 to {MAX_BATCH_SECTIONS} sections");
            return Err(icr_events::FieldError::new("sections", message).into());
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
impl<L: EventLog> AccessDecisionService for Handle<L> {
    async fn authorize(
        &self,
        request: Request<AuthorizeRequest>,
    ) -> Result<Response<AuthorizeResponse>, Status> {
        Ok(Response::new(self.0.authorize(request.into_inner()).await?))
    }

    async fn authorize_batch(
        &self,
        request: Request<AuthorizeBatchRequest>,
    ) -> Result<Response<AuthorizeBatchResponse>, Status> {
        Ok(Response::new(
            self.0.authorize_batch(request.into_inner()).await?,
        ))
    }
}

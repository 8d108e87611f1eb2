//! `audit at` and `audit recheck`: decisions as they would have been, asked
//! of the log as it stood at a past point with today's model and rules.

use anyhow::{Result, bail};
use clap::{ArgGroup, Args};
use icr_proto::pb::audit_service_client::AuditServiceClient;
use icr_proto::pb::authorize_at_request::At;
use icr_proto::pb::{
    AuthorizeAtRequest, AuthorizeAtResponse, RecheckDecisionRequest, RecheckDecisionResponse,
    RecordSection,
};
use prost_types::Timestamp;
use serde_json::{Value, json};
use tonic::transport::Channel;

use crate::authorize::{self, AccessQuestion};
use crate::caller::Caller;
use crate::dates;
use crate::failure::{self, CallContext};
use crate::names;
use crate::output::Output;

/// Arguments of `audit at`.
#[derive(Args, Debug, Clone)]
#[command(group(ArgGroup::new("point").required(true).args(["time", "position"])))]
pub(crate) struct AtArgs {
    /// Ask the log as it stood at this instant (RFC 3339, e.g.
    /// 2026-03-31T23:59:59Z), with this instant as the decision date.
    #[arg(long, value_name = "WHEN", value_parser = dates::parse_timestamp)]
    pub(crate) time: Option<Timestamp>,
    /// Ask the log up to and including this position (as printed by every
    /// write and by `events`), as at the time that event was recorded.
    #[arg(long, value_name = "POSITION")]
    pub(crate) position: Option<u64>,
    #[command(flatten)]
    pub(crate) question: AccessQuestion,
    /// Record section to decide.
    #[arg(long, value_name = "SECTION", value_parser = names::parser::<RecordSection>())]
    pub(crate) section: RecordSection,
    /// Also print the policy lines and the log positions of the events that
    /// decided.
    #[arg(long)]
    pub(crate) explain: bool,
}

/// Arguments of `audit recheck`.
#[derive(Args, Debug, Clone)]
pub(crate) struct RecheckArgs {
    /// Decision id, as returned to the viewer and kept in the trail.
    #[arg(value_name = "DECISION_ID")]
    pub(crate) decision_id: String,
}

/// Fields of a re-check: the recorded decision beside today's.
const RECHECK_FIELDS: &[&str] = &[
    "decision_id",
    "audit_position",
    "recorded_at",
    "log_position",
    "outcome_recorded",
    "outcome_now",
    "reason_recorded",
    "reason_now",
    "obligations_recorded",
    "obligations_now",
    "agrees",
];

/// Asks the service for the decision at the point `args` names.
pub(crate) async fn authorize_at(
    channel: Channel,
    caller: &Caller,
    args: &AtArgs,
) -> Result<AuthorizeAtResponse> {
    let at = match (args.time, args.position) {
        (Some(time), _) => At::AtTime(time),
        (None, Some(position)) => At::AtPosition(position),
        (None, None) => bail!("give --time or --position"),
    };
    let request = AuthorizeAtRequest {
        request: Some(args.question.request(caller, args.section, 0)),
        at: Some(at),
    };
    let response = AuditServiceClient::new(channel)
        .authorize_at(caller.request(request))
        .await
        .map_err(|status| CallContext::patient_read(&args.question.nhs_number).rejected(status))?;
    Ok(response.into_inner())
}

/// Runs `audit at` and prints the decision as `authorize` does.
pub(crate) async fn run_at(
    channel: Channel,
    caller: &Caller,
    args: &AtArgs,
    output: Output,
) -> Result<()> {
    let response = authorize_at(channel, caller, args).await?;
    let decision = response
        .decision
        .ok_or_else(|| failure::missing("decision"))?;
    let mut record = authorize::decision_record(&decision);
    record["evaluated_at"] = json!(dates::format_timestamp(response.evaluated_at.as_ref()));
    // It has no decision id: it is not recorded.
    let fields = authorize::decision_fields(args.explain, "evaluated_at");
    output.records(&fields, &[record])?;
    Ok(())
}

/// Asks the service to re-evaluate a recorded decision.
pub(crate) async fn recheck(
    channel: Channel,
    caller: &Caller,
    decision_id: &str,
) -> Result<RecheckDecisionResponse> {
    let request = RecheckDecisionRequest {
        decision_id: decision_id.to_owned(),
    };
    let response = AuditServiceClient::new(channel)
        .recheck_decision(caller.request(request))
        .await
        .map_err(|status| CallContext::decision_read(decision_id).rejected(status))?;
    Ok(response.into_inner())
}

/// Runs `audit recheck`: prints the recorded decision beside today's, and
/// fails (exit status 1) with the differences when they disagree.
pub(crate) async fn run_recheck(
    channel: Channel,
    caller: &Caller,
    args: &RecheckArgs,
    output: Output,
) -> Result<()> {
    let response = recheck(channel, caller, &args.decision_id).await?;
    output.record(RECHECK_FIELDS, &recheck_record(&response)?)?;
    if !response.agrees {
        bail!(
            "today's engine does not agree with the decision recorded as {}:\n  {}",
            args.decision_id,
            response.differences.join("\n  ")
        );
    }
    Ok(())
}

/// The recorded decision and its re-check as one record.
fn recheck_record(response: &RecheckDecisionResponse) -> Result<Value> {
    let recorded = response
        .recorded
        .as_ref()
        .ok_or_else(|| failure::missing("recorded"))?;
    let now = response
        .recheck
        .as_ref()
        .map(authorize::decision_record)
        .ok_or_else(|| failure::missing("recheck"))?;
    Ok(json!({
        "decision_id": recorded.decision_id,
        "audit_position": recorded.audit_position,
        "recorded_at": dates::format_timestamp(recorded.recorded_at.as_ref()),
        "log_position": recorded.log_position,
        "outcome_recorded": if recorded.allowed { "ALLOW" } else { "DENY" },
        "outcome_now": now["outcome"],
        "reason_recorded": recorded.reason,
        "reason_now": now["reason"],
        "obligations_recorded": recorded.obligations.join(" "),
        "obligations_now": now["obligations"],
        "agrees": response.agrees,
        "differences": response.differences,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use icr_proto::pb::{Decision, DecisionRecord, Obligation, Outcome};

    #[test]
    fn a_recheck_sets_recorded_beside_now() {
        let response = RecheckDecisionResponse {
            recorded: Some(DecisionRecord {
                decision_id: "01JDECISION".to_owned(),
                allowed: true,
                reason: "role_permits_section".to_owned(),
                obligations: vec!["review".to_owned()],
                ..DecisionRecord::default()
            }),
            recheck: Some(Decision {
                outcome: Outcome::Deny.into(),
                reason: "break_glass".to_owned(),
                obligations: vec![Obligation {
                    kind: "review".to_owned(),
                    detail: String::new(),
                }],
                ..Decision::default()
            }),
            agrees: false,
            differences: vec!["outcome: recorded allow, now deny".to_owned()],
        };
        let record = recheck_record(&response).expect("complete response");
        assert_eq!(record["outcome_recorded"], "ALLOW");
        assert_eq!(record["outcome_now"], "DENY");
        assert_eq!(record["obligations_now"], "review");
        assert_eq!(record["agrees"], false);
    }
}

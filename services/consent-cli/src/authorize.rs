//! `authorize`: ask whether a viewer may see sections of a patient's record,
//! as a record viewer does before it releases any data.

use anyhow::Result;
use clap::Args;
use icr_proto::pb::access_decision_service_client::AccessDecisionServiceClient;
use icr_proto::pb::{
    AccessMode, AuthorizeBatchRequest, AuthorizeRequest, Decision, Outcome, Purpose, RecordSection,
    Requester,
};
use serde_json::{Value, json};
use tonic::transport::Channel;

use crate::caller::Caller;
use crate::failure::{self, CallContext};
use crate::names;
use crate::output::Output;

/// Who asks to see which patient's record, why and how: an access request
/// but for its sections. `authorize` and `audit at` share it.
#[derive(Args, Debug, Clone)]
pub(crate) struct AccessQuestion {
    /// NHS number of the patient whose record would be viewed.
    #[arg(long = "nhs", value_name = "NHS_NUMBER", value_parser = crate::codes::nhs_number)]
    pub(crate) nhs_number: String,
    /// National RBAC job-role code the viewer acts in, e.g. R8000.
    #[arg(long = "role", value_name = "CODE")]
    pub(crate) role_code: String,
    /// ODS code of the viewer's organisation.
    #[arg(long = "org", value_name = "ODS", value_parser = crate::codes::ods_code)]
    pub(crate) organisation_ods: String,
    /// Why the record is being looked at.
    #[arg(long, value_name = "PURPOSE", value_parser = names::parser::<Purpose>())]
    pub(crate) purpose: Purpose,
    /// ODS code of the organisation the data came from. Data from the
    /// viewer's own organisation is not ICR sharing.
    #[arg(long = "source-org", value_name = "ODS", value_parser = crate::codes::ods_code)]
    pub(crate) source_organisation_ods: Option<String>,
    /// How the viewer claims the right to see the record: a recorded care
    /// relationship (normal), emergency access (break_glass), or a care
    /// relationship not yet recorded (self_claimed_relationship).
    #[arg(long, value_name = "MODE", default_value = "normal", value_parser = names::parser::<AccessMode>())]
    pub(crate) mode: AccessMode,
    /// Why, for break_glass and self_claimed_relationship (it is reviewed).
    #[arg(long, value_name = "TEXT")]
    pub(crate) reason: Option<String>,
}

impl AccessQuestion {
    /// The viewer: the caller's user in the given role and organisation.
    fn requester(&self, caller: &Caller) -> Requester {
        Requester {
            user_id: caller.user_id(),
            role_code: self.role_code.clone(),
            organisation_ods: self.organisation_ods.clone(),
        }
    }

    /// The question about one section, as a record viewer asks it.
    pub(crate) fn request(
        &self,
        caller: &Caller,
        section: RecordSection,
        min_log_position: u64,
    ) -> AuthorizeRequest {
        AuthorizeRequest {
            nhs_number: self.nhs_number.clone(),
            requester: Some(self.requester(caller)),
            section: section.into(),
            purpose: self.purpose.into(),
            source_organisation_ods: self.source_organisation_ods.clone().unwrap_or_default(),
            min_log_position,
            access_mode: self.mode.into(),
            access_reason: self.reason.clone().unwrap_or_default(),
        }
    }
}

/// Arguments of `authorize`.
#[derive(Args, Debug, Clone)]
pub(crate) struct AuthorizeArgs {
    #[command(flatten)]
    pub(crate) question: AccessQuestion,
    /// Record section to decide. Give several (repeated or comma-separated)
    /// to decide them in one batch, one decision each.
    #[arg(
        long = "section",
        value_name = "SECTION",
        required = true,
        num_args = 1..,
        value_delimiter = ',',
        value_parser = names::parser::<RecordSection>(),
    )]
    pub(crate) sections: Vec<RecordSection>,
    /// Decide only once the service has applied this log position, e.g. the
    /// one a write just printed; 0 means no minimum.
    #[arg(long = "min-position", value_name = "POSITION", default_value_t = 0)]
    pub(crate) min_log_position: u64,
    /// Also print the policy lines and the log positions of the events that
    /// decided each section.
    #[arg(long)]
    pub(crate) explain: bool,
}

/// Asks the service for one decision per requested section, in order. One
/// section uses `Authorize`, several use `AuthorizeBatch`, as a viewer would.
pub(crate) async fn authorize(
    channel: Channel,
    caller: &Caller,
    args: &AuthorizeArgs,
) -> Result<Vec<Decision>> {
    let mut client = AccessDecisionServiceClient::new(channel);
    let question = &args.question;
    let call = CallContext::patient_read(&question.nhs_number);
    if let [section] = args.sections.as_slice() {
        let request = question.request(caller, *section, args.min_log_position);
        let response = client
            .authorize(caller.request(request))
            .await
            .map_err(|status| call.rejected(status))?
            .into_inner();
        let decision = response
            .decision
            .ok_or_else(|| failure::missing("decision"))?;
        return Ok(vec![decision]);
    }
    let request = AuthorizeBatchRequest {
        nhs_number: question.nhs_number.clone(),
        requester: Some(question.requester(caller)),
        sections: args
            .sections
            .iter()
            .map(|&section| section.into())
            .collect(),
        purpose: question.purpose.into(),
        source_organisation_ods: question.source_organisation_ods.clone().unwrap_or_default(),
        min_log_position: args.min_log_position,
        access_mode: question.mode.into(),
        access_reason: question.reason.clone().unwrap_or_default(),
    };
    let response = client
        .authorize_batch(caller.request(request))
        .await
        .map_err(|status| call.rejected(status))?
        .into_inner();
    Ok(response.decisions)
}

/// Runs `authorize` and prints its decisions.
pub(crate) async fn run(
    channel: Channel,
    caller: &Caller,
    args: &AuthorizeArgs,
    output: Output,
) -> Result<()> {
    let decisions = authorize(channel, caller, args).await?;
    let records: Vec<Value> = decisions.iter().map(decision_record).collect();
    output.records(&decision_fields(args.explain, "decision_id"), &records)?;
    Ok(())
}

/// Fields of a decision, in the order people read them, but for the one
/// that names it (see [`decision_fields`]).
const DECISION_FIELDS: &[&str] = &[
    "section",
    "outcome",
    "reason",
    "explanation",
    "obligations",
    "log_position",
];

/// With `--explain`: also what decided.
const EXPLAINED_FIELDS: &[&str] = &[
    "section",
    "outcome",
    "reason",
    "obligations",
    "policy_lines",
    "event_positions",
    "log_position",
];

/// The columns of a table of decisions, `explain`ed or not, ending with
/// the field that names each one: `decision_id` for a recorded decision,
/// `evaluated_at` for one asked of the past and not recorded.
pub(crate) fn decision_fields(explain: bool, named_by: &'static str) -> Vec<&'static str> {
    let fields = if explain {
        EXPLAINED_FIELDS
    } else {
        DECISION_FIELDS
    };
    fields.iter().copied().chain([named_by]).collect()
}

/// One decision as a record. The outcome is upper-cased (`ALLOW`, `DENY`)
/// because it is the word a reader scans the table for.
pub(crate) fn decision_record(decision: &Decision) -> Value {
    json!({
        "section": names::short_name_of::<RecordSection>(decision.section),
        "outcome": names::short_name_of::<Outcome>(decision.outcome).to_ascii_uppercase(),
        "reason": decision.reason,
        "explanation": decision.explanation,
        "obligations": decision.obligations.iter().map(|o| o.kind.as_str()).collect::<Vec<_>>().join(" "),
        "policy_lines": decision.policy_lines.join(" | "),
        "event_positions": decision.event_positions.iter().map(u64::to_string).collect::<Vec<_>>().join(" "),
        "log_position": decision.log_position,
        "decision_id": decision.decision_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decision_reads_with_short_names() {
        let decision = Decision {
            decision_id: "01JDECISION".to_owned(),
            section: RecordSection::MentalHealth.into(),
            outcome: Outcome::Deny.into(),
            reason: "objection_active".to_owned(),
            explanation: "The patient has objected to sharing.".to_owned(),
            log_position: 42,
            ..Decision::default()
        };
        let record = decision_record(&decision);
        assert_eq!(record["section"], "mental_health");
        assert_eq!(record["outcome"], "DENY");
        assert_eq!(record["log_position"], 42);
    }
}

//! One decision record becomes one `AuditEvent`.
//!
//! | record | AuditEvent |
//! |---|---|
//! | `decision_id` | `id` |
//! | `recorded_at` | `recorded` (RFC 3339, UTC) |
//! | `allowed`, `reason` | `outcome` (`0` allow, `4` deny, `8` could not decide), `outcomeDesc` = a view or a refused attempt, in words, and the reason code (`outcome_description`); the reason code alone as the consent entity's `decision-reason` detail |
//! | `purpose` | `purposeOfEvent` ActReason `TREAT` or `HOPERAT` |
//! | `access_mode` break glass | `purposeOfEvent` ActReason `BTG` as well |
//! | `calling_system` | agent: client application |
//! | `user_id`, `role_code` | agent: user, `requestor: true`, role in `UKCore-SDSJobRoleName` |
//! | `organisation_ods` | agent: user's organisation, ODS code |
//! | this service ([`AuditSource`]) | agent: authorization server, and `source.observer` |
//! | `nhs_number`, `section`, `source_organisation_ods` | patient entity and its details |
//! | everything else | consent entity: the consent and policy state the decision used, and the decision's details |
//!
//! BALP closes the entity list to the patient, the consent and a token, so
//! the section asked for and the decision's own facts are entity details
//! (named in [`detail`]) rather than entities of their own.

use icr_events::codes::{access_report_mark, short_name};
use icr_proto::Timestamp;
use icr_proto::pb::{AccessMode, AccessReportMark, DecisionRecord, Purpose, RecordSection};

use crate::ExportError;
use crate::codes::{self, outcome};
use crate::model::{
    Agent, AuditEvent, CodeableConcept, Entity, EntityDetail, Identifier, Reference, Source,
};

/// The names of the entity details an event carries.
pub mod detail {
    /// Patient entity: the record section asked for, e.g. `medications`.
    pub const RECORD_SECTION: &str = "record-section";
    /// Patient entity: ODS code of the organisation the data comes from,
    /// when the viewer said.
    pub const SOURCE_ORGANISATION: &str = "source-organisation-ods";
    /// Consent entity: the decision's reason code, e.g. `objection_active`,
    /// exactly as the decision audit records it. R4's `outcomeDesc` is free
    /// text for people; this is the value for machines (a SIEM rule, a
    /// report grouped by reason).
    pub const DECISION_REASON: &str = "decision-reason";
    /// Consent entity: log position of the consent and policy state used.
    pub const LOG_POSITION: &str = "log-position";
    /// Consent entity: `normal`, `break_glass` or `self_claimed_relationship`.
    pub const ACCESS_MODE: &str = "access-mode";
    /// Consent entity: the reason given for break glass or a self-claimed
    /// relationship.
    pub const ACCESS_REASON: &str = "access-reason";
    /// Consent entity: one per obligation attached to an allow.
    pub const OBLIGATION: &str = "obligation";
    /// Consent entity: when the review of an exceptional access is due.
    pub const REVIEW_DUE_BY: &str = "review-due-by";
    /// Consent entity: position of the decision in the decision audit.
    pub const AUDIT_POSITION: &str = "audit-position";
    /// Consent entity: the record's chain hash, lowercase hex.
    pub const CHAIN_HASH: &str = "chain-hash";
}

/// This consent service deployment, as the events name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditSource {
    /// Identifies the deployment, e.g. its ODS code or its host name; it is
    /// both `source.observer` and the authorization server agent.
    pub observer: Identifier,
    /// Display name of the observer.
    pub name: String,
    /// Where the deployment runs (`source.site`), if worth saying.
    pub site: Option<String>,
    /// The namespace of requesters' user ids, when every calling system uses
    /// the same one (e.g. [`codes::SDS_USER_ID`]). `None` writes the ids
    /// without a system: each calling system has its own.
    pub user_id_system: Option<String>,
}

impl AuditSource {
    /// The display name used by [`AuditSource::new`].
    pub const DEFAULT_NAME: &str = "ICR consent service";

    /// A deployment known by `observer`, with the default name, no site,
    /// and user ids local to each calling system.
    pub fn new(observer: Identifier) -> Self {
        Self {
            observer,
            name: Self::DEFAULT_NAME.to_owned(),
            site: None,
            user_id_system: None,
        }
    }
}

/// The FHIR R4 `AuditEvent` for one access decision, recorded by `source`.
///
/// Fails only for a record that could not have come from the decision
/// audit: no decision id usable as a FHIR id, or no valid `recorded_at`.
pub fn audit_event(
    record: &DecisionRecord,
    source: &AuditSource,
) -> Result<AuditEvent, ExportError> {
    let invalid = |problem| ExportError::InvalidRecord {
        decision_id: record.decision_id.clone(),
        problem,
    };
    if !is_fhir_id(&record.decision_id) {
        return Err(invalid(
            "decision_id is not a FHIR id (1-64 of A-Z a-z 0-9 - .)",
        ));
    }
    let recorded = record
        .recorded_at
        .as_ref()
        .ok_or_else(|| invalid("recorded_at is missing"))?;
    let recorded = instant(recorded).ok_or_else(|| invalid("recorded_at is out of range"))?;
    let review_due_by = match &record.review_due_by {
        Some(due) => Some(instant(due).ok_or_else(|| invalid("review_due_by is out of range"))?),
        None => None,
    };
    let observer = Reference {
        resource_type: Some("Device".to_owned()),
        identifier: Some(source.observer.clone()),
        display: Some(source.name.clone()),
    };
    Ok(AuditEvent {
        id: record.decision_id.clone(),
        event_type: codes::security_alert(),
        subtype: vec![codes::authz_consent()],
        action: Some(codes::ACTION_EXECUTE.to_owned()),
        recorded,
        outcome: Some(outcome_code(record).to_owned()),
        outcome_desc: Some(outcome_description(record)),
        purpose_of_event: purposes(record),
        agent: vec![
            client(record),
            user(record, source),
            organisation(record),
            authorizer(observer.clone()),
        ],
        source: Source {
            site: source.site.clone(),
            observer,
            source_type: vec![codes::security_server()],
        },
        entity: vec![patient(record), consent(record, review_due_by)],
    })
}

/// Allowed is success. A deny the policy decided is a minor failure, like an
/// HTTP 403; a deny because the service could not evaluate at all is a
/// serious failure. (BALP's deny example uses `8` throughout; R4's code
/// definitions separate the two cases, and auditors need to.)
fn outcome_code(record: &DecisionRecord) -> &'static str {
    // The reason codes the engine (`evaluation_failed`,
    // `evaluation_panicked`) and the service (`policy_unavailable`) give
    // when no policy evaluation took place.
    const NOT_EVALUATED: [&str; 3] = [
        "evaluation_failed",
        "evaluation_panicked",
        "policy_unavailable",
    ];
    if record.allowed {
        outcome::SUCCESS
    } else if NOT_EVALUATED.contains(&record.reason.as_str()) {
        outcome::SERIOUS_FAILURE
    } else {
        outcome::MINOR_FAILURE
    }
}

/// What happened, for the people who read an audit repository: an allow is
/// a view (the section was released to the requester, who has seen it), a
/// deny is a refused attempt (nothing was shown); then the reason code in
/// brackets, e.g. `refused attempt: nothing was shown (objection_active)`.
/// Machines read the code from the [`detail::DECISION_REASON`] detail, not
/// from this text.
fn outcome_description(record: &DecisionRecord) -> String {
    let what = match access_report_mark(record) {
        AccessReportMark::Viewed => "viewed: the record section was released to the requester",
        _ if outcome_code(record) == outcome::SERIOUS_FAILURE => {
            "refused attempt: the service could not decide, so nothing was shown"
        }
        _ => "refused attempt: nothing was shown",
    };
    match record.reason.as_str() {
        "" => what.to_owned(),
        reason => format!("{what} ({reason})"),
    }
}

fn purposes(record: &DecisionRecord) -> Vec<CodeableConcept> {
    let purpose = match Purpose::try_from(record.purpose) {
        Ok(Purpose::DirectCare) => Some(codes::treatment()),
        Ok(Purpose::SecondaryUse) => Some(codes::healthcare_operations()),
        Ok(Purpose::Unspecified) | Err(_) => None,
    };
    let break_glass = (AccessMode::try_from(record.access_mode) == Ok(AccessMode::BreakGlass))
        .then(codes::break_the_glass);
    purpose
        .into_iter()
        .chain(break_glass)
        .map(CodeableConcept::from)
        .collect()
}

fn client(record: &DecisionRecord) -> Agent {
    Agent {
        agent_type: Some(codes::application().into()),
        role: vec![],
        who: non_empty(&record.calling_system).map(|system| Reference {
            resource_type: Some("Device".to_owned()),
            identifier: Some(Identifier::unqualified(system)),
            display: None,
        }),
        requestor: false,
    }
}

fn user(record: &DecisionRecord, source: &AuditSource) -> Agent {
    Agent {
        agent_type: Some(codes::information_recipient().into()),
        role: non_empty(&record.role_code)
            .map(|code| codes::job_role(&code).into())
            .into_iter()
            .collect(),
        who: non_empty(&record.user_id).map(|user_id| Reference {
            resource_type: Some("Practitioner".to_owned()),
            identifier: Some(Identifier {
                system: source.user_id_system.clone(),
                value: user_id,
            }),
            display: None,
        }),
        requestor: true,
    }
}

fn organisation(record: &DecisionRecord) -> Agent {
    Agent {
        agent_type: Some(codes::healthcare_provider().into()),
        role: vec![],
        who: non_empty(&record.organisation_ods).map(|ods| Reference {
            resource_type: Some("Organization".to_owned()),
            identifier: Some(codes::ods_code(&ods)),
            display: None,
        }),
        requestor: false,
    }
}

fn authorizer(observer: Reference) -> Agent {
    Agent {
        agent_type: Some(codes::authorization_server().into()),
        role: vec![],
        who: Some(observer),
        requestor: false,
    }
}

fn patient(record: &DecisionRecord) -> Entity {
    let mut details = vec![detail(detail::RECORD_SECTION, section_name(record.section))];
    if let Some(ods) = non_empty(&record.source_organisation_ods) {
        details.push(detail(detail::SOURCE_ORGANISATION, ods));
    }
    Entity {
        what: non_empty(&record.nhs_number).map(|nhs| Reference {
            resource_type: Some("Patient".to_owned()),
            identifier: Some(codes::nhs_number(&nhs)),
            display: None,
        }),
        entity_type: Some(codes::person()),
        role: Some(codes::patient_role()),
        detail: details,
    }
}

/// The consent "on file" is the patient's consent and the sharing policy as
/// they stood at the decision's log position; the log has no other id for it.
fn consent(record: &DecisionRecord, review_due_by: Option<String>) -> Entity {
    let mut details = Vec::new();
    if let Some(reason) = non_empty(&record.reason) {
        details.push(detail(detail::DECISION_REASON, reason));
    }
    details.extend([
        detail(detail::LOG_POSITION, record.log_position.to_string()),
        detail(detail::ACCESS_MODE, access_mode_name(record.access_mode)),
    ]);
    if let Some(reason) = non_empty(&record.access_reason) {
        details.push(detail(detail::ACCESS_REASON, reason));
    }
    for obligation in &record.obligations {
        details.push(detail(detail::OBLIGATION, obligation.clone()));
    }
    if let Some(due) = review_due_by {
        details.push(detail(detail::REVIEW_DUE_BY, due));
    }
    details.push(detail(
        detail::AUDIT_POSITION,
        record.audit_position.to_string(),
    ));
    if !record.chain_hash.is_empty() {
        details.push(detail(detail::CHAIN_HASH, hex(&record.chain_hash)));
    }
    Entity {
        what: Some(Reference {
            resource_type: Some("Consent".to_owned()),
            identifier: None,
            display: Some(format!(
                "consent and sharing policy at log position {}",
                record.log_position
            )),
        }),
        entity_type: Some(codes::consent()),
        role: None,
        detail: details,
    }
}

fn detail(name: &str, value: String) -> EntityDetail {
    EntityDetail {
        detail_type: name.to_owned(),
        value_string: value,
    }
}

/// `medications` for `RECORD_SECTION_MEDICATIONS`, as the CLI spells it; a
/// section this build does not know is written as its number.
fn section_name(raw: i32) -> String {
    RecordSection::try_from(raw).map_or_else(|_| raw.to_string(), icr_events::codes::section_name)
}

fn access_mode_name(raw: i32) -> String {
    match AccessMode::try_from(raw) {
        Ok(mode) => short_name(mode.as_str_name(), "ACCESS_MODE_"),
        Err(_) => raw.to_string(),
    }
}

/// An RFC 3339 instant in UTC (`Z`), which is a valid FHIR `instant`.
fn instant(timestamp: &Timestamp) -> Option<String> {
    jiff::Timestamp::new(timestamp.seconds, timestamp.nanos)
        .ok()
        .map(|t| t.to_string())
}

/// FHIR `id`: `[A-Za-z0-9\-\.]{1,64}` (<https://hl7.org/fhir/R4/datatypes.html#id>).
fn is_fhir_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

fn non_empty(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_owned())
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

#[cfg(test)]
mod tests;

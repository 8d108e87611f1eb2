//! One `Consent` → one [`ImportPlan`], checked element by element in the
//! order of the mapping table (see the module docs of `consent_import`).

use icr_proto::pb::ObjectionScope;
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::Value;

use super::rejection::{Rejection, RejectionKind as Kind};
use super::resource::{CodeableConcept, Coding, Consent, Provision};
use super::{ConsentChange, ImportContext, ImportPlan, consent_request_id, modifiers, people};
use crate::codes::{CONSENT_ACTION, CONSENT_SCOPE, LOINC, V3_ACT_CODE, V3_ACT_REASON};

/// Whether the decision is in force or has ended (`status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Active,
    Inactive,
}

/// `provision.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProvisionType {
    Deny,
    Permit,
}

/// Maps one resource (as read by [`super::read_consents`]) to the request
/// that records it, or says why it cannot be recorded faithfully. The
/// resources of one file are planned together with
/// [`super::plan_consent_file`], which also refuses those that conflict.
pub fn plan_consent_import(
    resource: &Value,
    context: &ImportContext,
) -> Result<ImportPlan, Rejection> {
    let resource_type = resource.get("resourceType").and_then(Value::as_str);
    if resource_type != Some("Consent") {
        return Err(Rejection::new(
            "resourceType",
            Kind::NotAConsent,
            format!("is {}, not Consent", resource_type.unwrap_or("absent")),
        ));
    }
    modifiers::no_modifiers(resource)?;
    let consent = Consent::deserialize(resource).map_err(|error| {
        Rejection::new("", Kind::NotAConsent, format!("not an R4 Consent: {error}"))
    })?;
    let status = status(consent.status.as_deref())?;
    scope(consent.scope.as_ref())?;
    categories(&consent.category)?;
    let provision = consent.provision.as_ref().ok_or_else(|| {
        Rejection::new(
            "provision",
            Kind::Missing,
            "a Consent without a provision states no rule",
        )
    })?;
    whole_record(provision)?;
    let provision_type = provision_type(provision.kind.as_deref())?;
    let change = match provision_type {
        ProvisionType::Deny => objection(provision, status)?,
        ProvisionType::Permit => permission(provision, &consent, status, context.now)?,
    };
    actions(&provision.action)?;
    policy_rule(consent.policy_rule.as_ref(), provision_type)?;
    let nhs_number = people::patient(&consent)?;
    let submitter = people::performer(&consent, &nhs_number, context)?;
    Ok(ImportPlan {
        resource_id: consent.id.clone(),
        request_id: consent_request_id(resource, &change),
        nhs_number,
        submitter,
        change,
    })
}

fn status(status: Option<&str>) -> Result<Status, Rejection> {
    let why = match status {
        Some("active") => return Ok(Status::Active),
        Some("inactive") => return Ok(Status::Inactive),
        None => return Err(Rejection::new("status", Kind::Missing, "required")),
        Some("draft" | "proposed") => "the decision is not yet agreed",
        Some("rejected") => {
            "the decision was never in force: there is nothing to record or withdraw"
        }
        Some("entered-in-error") => {
            "the log is append-only: import the same decision as inactive to end it instead"
        }
        Some(_) => "not an R4 Consent status",
    };
    Err(Rejection::new(
        "status",
        Kind::UnsupportedStatus,
        format!("`{}`: {why}", status.unwrap_or_default()),
    ))
}

fn scope(scope: Option<&CodeableConcept>) -> Result<(), Rejection> {
    let scope = scope.ok_or_else(|| Rejection::new("scope", Kind::Missing, "required"))?;
    if scope.has(CONSENT_SCOPE, "patient-privacy") {
        return Ok(());
    }
    Err(Rejection::new(
        "scope",
        Kind::NotPrivacyScope,
        format!(
            "must be {CONSENT_SCOPE}|patient-privacy: other scopes are not decisions about sharing the record"
        ),
    ))
}

fn categories(categories: &[CodeableConcept]) -> Result<(), Rejection> {
    if categories.is_empty() {
        return Err(Rejection::new("category", Kind::Missing, "required"));
    }
    for (index, category) in categories.iter().enumerate() {
        if !(category.has(LOINC, "59284-0") || category.has(V3_ACT_CODE, "INFA")) {
            let found: Vec<String> = category.coding.iter().map(|c| c.token()).collect();
            return Err(Rejection::new(
                format!("category[{index}]"),
                Kind::UnsupportedCategory,
                format!(
                    "{found:?} is not a general consent to sharing (LOINC 59284-0 or v3-ActCode INFA)"
                ),
            ));
        }
    }
    Ok(())
}

/// Refuses the parts of a provision that narrow it to some data or carve
/// exceptions out of it.
fn whole_record(provision: &Provision) -> Result<(), Rejection> {
    if !provision.provision.is_empty() {
        return Err(Rejection::new(
            "provision.provision[0]",
            Kind::NestedProvision,
            "exceptions to the rule cannot be recorded: an objection or permission covers the whole record",
        ));
    }
    let restrictions = [
        ("securityLabel", !provision.security_label.is_empty()),
        ("class", !provision.class.is_empty()),
        ("code", !provision.code.is_empty()),
        ("dataPeriod", provision.data_period.is_some()),
        ("data", !provision.data.is_empty()),
    ];
    match restrictions.into_iter().find(|(_, present)| *present) {
        Some((element, _)) => Err(Rejection::new(
            format!("provision.{element}"),
            Kind::UnrepresentableRestriction,
            "limits the rule to some of the record; the service's decisions cover the whole of it",
        )),
        None => Ok(()),
    }
}

fn provision_type(kind: Option<&str>) -> Result<ProvisionType, Rejection> {
    match kind {
        Some("deny") => Ok(ProvisionType::Deny),
        Some("permit") => Ok(ProvisionType::Permit),
        None => Err(Rejection::new(
            "provision.type",
            Kind::Missing,
            "required (permit or deny); it is never inferred from policyRule",
        )),
        Some(other) => Err(Rejection::new(
            "provision.type",
            Kind::UnsupportedProvisionType,
            format!("`{other}` is neither permit nor deny"),
        )),
    }
}

/// An objection: no actors (it covers everyone), no period (it holds until
/// withdrawn), and one purpose naming its scope.
fn objection(provision: &Provision, status: Status) -> Result<ConsentChange, Rejection> {
    if !provision.actor.is_empty() {
        return Err(Rejection::new(
            "provision.actor[0]",
            Kind::UnsupportedActor,
            "an objection covers every organisation; one naming actors cannot be recorded",
        ));
    }
    if provision.period.is_some() {
        return Err(Rejection::new(
            "provision.period",
            Kind::UnsupportedPeriod,
            "an objection holds until withdrawn; a time-limited one cannot be recorded",
        ));
    }
    let supported = |purpose: &Coding| {
        purpose.is(V3_ACT_REASON, "TREAT") || purpose.is(V3_ACT_REASON, "HOPERAT")
    };
    one_purpose(
        &provision.purpose,
        supported,
        "not v3-ActReason TREAT (direct care) or HOPERAT (secondary use)",
        "one purpose per objection: send one Consent for each scope",
    )?;
    let scope = match provision.purpose.first() {
        None => {
            return Err(Rejection::new(
                "provision.purpose",
                Kind::Missing,
                format!(
                    "an objection must say its scope: {V3_ACT_REASON}|TREAT (direct care) or |HOPERAT (secondary use)"
                ),
            ));
        }
        Some(purpose) if purpose.is(V3_ACT_REASON, "TREAT") => ObjectionScope::DirectCare,
        Some(_) => ObjectionScope::SecondaryUse,
    };
    Ok(match status {
        Status::Active => ConsentChange::RecordObjection { scope },
        Status::Inactive => ConsentChange::WithdrawObjection { scope },
    })
}

/// At most one purpose, and that one `supported`. The first unsupported
/// entry is named, wherever it is in the list; a list of supported ones
/// only is refused at its second entry, for being a list.
fn one_purpose(
    purposes: &[Coding],
    supported: impl Fn(&Coding) -> bool,
    unsupported: &str,
    several: &str,
) -> Result<(), Rejection> {
    if let Some(index) = purposes.iter().position(|purpose| !supported(purpose)) {
        return Err(Rejection::new(
            format!("provision.purpose[{index}]"),
            Kind::UnsupportedPurpose,
            format!("`{}`: {unsupported}", purposes[index].token()),
        ));
    }
    if purposes.len() > 1 {
        return Err(Rejection::new(
            "provision.purpose[1]",
            Kind::UnsupportedPurpose,
            format!("more than one purpose: {several}"),
        ));
    }
    Ok(())
}

/// A permission to view: one receiving organisation, for direct care, and
/// (to grant it) a period that has begun and ends later.
fn permission(
    provision: &Provision,
    consent: &Consent,
    status: Status,
    now: Timestamp,
) -> Result<ConsentChange, Rejection> {
    one_purpose(
        &provision.purpose,
        |purpose| purpose.is(V3_ACT_REASON, "TREAT"),
        "a permission to view is for direct care (v3-ActReason TREAT) alone",
        "a permission to view has one purpose, direct care: list TREAT once",
    )?;
    let organisation_ods = people::recipient(&provision.actor, &consent.contained)?;
    Ok(match status {
        Status::Inactive => ConsentChange::RevokePermissionToView { organisation_ods },
        Status::Active => ConsentChange::GrantPermissionToView {
            organisation_ods,
            until: permission_end(provision, now)?,
        },
    })
}

/// The end of a permission's period, checking the period is under way.
fn permission_end(provision: &Provision, now: Timestamp) -> Result<Timestamp, Rejection> {
    let period = provision.period.as_ref().ok_or_else(|| {
        Rejection::new(
            "provision.period",
            Kind::Missing,
            "a permission to view lasts for an episode of care and must say when it ends",
        )
    })?;
    if let Some(start) = period.start.as_deref()
        && instant(start, "provision.period.start")? > now
    {
        return Err(Rejection::new(
            "provision.period.start",
            Kind::UnsupportedPeriod,
            format!("`{start}` is still to come; a permission is granted from when it is recorded"),
        ));
    }
    let end = period.end.as_deref().ok_or_else(|| {
        Rejection::new(
            "provision.period.end",
            Kind::UnsupportedPeriod,
            "open-ended: a permission to view must lapse at the end of the episode of care",
        )
    })?;
    let until = instant(end, "provision.period.end")?;
    if until <= now {
        return Err(Rejection::new(
            "provision.period.end",
            Kind::UnsupportedPeriod,
            format!("`{end}` has passed: the permission is already over"),
        ));
    }
    Ok(until)
}

/// A dateTime with a time and offset; a bare date leaves the instant to a
/// guess about the time zone.
fn instant(text: &str, path: &str) -> Result<Timestamp, Rejection> {
    text.parse().map_err(|_| {
        Rejection::new(
            path,
            Kind::UnsupportedPeriod,
            format!("`{text}` is not a date-time with a time zone offset; a date alone leaves the instant ambiguous"),
        )
    })
}

fn actions(actions: &[CodeableConcept]) -> Result<(), Rejection> {
    match actions
        .iter()
        .position(|action| !action.has(CONSENT_ACTION, "access"))
    {
        None => Ok(()),
        Some(index) => {
            let found: Vec<String> = actions[index].coding.iter().map(|c| c.token()).collect();
            Err(Rejection::new(
                format!("provision.action[{index}]"),
                Kind::UnsupportedAction,
                format!("{found:?}: the service decides access alone (consentaction access)"),
            ))
        }
    }
}

fn policy_rule(
    rule: Option<&CodeableConcept>,
    provision_type: ProvisionType,
) -> Result<(), Rejection> {
    let Some(rule) = rule else { return Ok(()) };
    let (kind, expected, other) = match provision_type {
        ProvisionType::Deny => ("deny", "OPTOUT", "OPTIN"),
        ProvisionType::Permit => ("permit", "OPTIN", "OPTOUT"),
    };
    if rule.has(V3_ACT_CODE, expected) && !rule.has(V3_ACT_CODE, other) {
        return Ok(());
    }
    let found: Vec<String> = rule.coding.iter().map(|c| c.token()).collect();
    Err(Rejection::new(
        "policyRule",
        Kind::UnsupportedPolicyRule,
        format!("{found:?}: with provision.type {kind} it must be v3-ActCode {expected}"),
    ))
}

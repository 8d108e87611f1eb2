//! The `given` steps of a scenario: one RPC each (or a pause), written as a
//! one-key inline table named after the action, with an optional `expect`.
//!
//! ```toml
//! { object = { nhs = "9434765919", attorney = "att-1" }, expect = "failed_precondition" }
//! ```
//!
//! Every field is checked when the file is loaded (unknown fields, enum
//! names, relative dates), so a typo fails the load, not the run.

use icr_proto::pb;
use serde::Deserialize;

use crate::dates::{Pause, RelativeDate, RelativeInstant};
use crate::names::{GrpcCode, Named};

/// One step: what to do and, when it must fail, the gRPC code it must fail
/// with.
#[derive(Debug, Clone)]
pub(crate) struct Step {
    /// The action.
    pub(crate) action: Action,
    /// The error the step must fail with; `None` means it must succeed.
    pub(crate) expect: Option<GrpcCode>,
}

impl<'de> Deserialize<'de> for Step {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut table = toml::Table::deserialize(deserializer)?;
        let expect = table
            .remove("expect")
            .map(GrpcCode::deserialize)
            .transpose()
            .map_err(D::Error::custom)?;
        if table.len() != 1 {
            let keys: Vec<&str> = table.keys().map(String::as_str).collect();
            return Err(D::Error::custom(format!(
                "a step names exactly one action (and optionally `expect`), found: [{}]",
                keys.join(", ")
            )));
        }
        let action = Action::deserialize(toml::Value::Table(table)).map_err(D::Error::custom)?;
        Ok(Self { action, expect })
    }
}

/// What a step does. Each variant is one RPC of the consent, care context or
/// policy services, except `Wait`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Action {
    /// `JoinOrganisation`.
    JoinOrg(JoinOrg),
    /// `LeaveOrganisation`.
    LeaveOrg(LeaveOrg),
    /// `SetRolePolicy`.
    SetRole(SetRole),
    /// `SetRegionPolicy`.
    SetRegion(SetRegion),
    /// `RegisterPatient`.
    Register(Register),
    /// `StartCareRelationship`.
    CareStart(CareStart),
    /// `EndCareRelationship`.
    CareEnd(CareEnd),
    /// `RecordObjection`.
    Object(Objection),
    /// `WithdrawObjection`.
    Withdraw(Objection),
    /// `RegisterPowerOfAttorney`.
    Attorney(Attorney),
    /// `RevokePowerOfAttorney`.
    RevokeAttorney(RevokeAttorney),
    /// `GrantPermissionToView`.
    Grant(Grant),
    /// `RevokePermissionToView`.
    RevokePermission(RevokePermission),
    /// Pause, e.g. to let a short permission lapse.
    Wait(Pause),
}

impl Action {
    /// The action's name as written in scenario files.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::JoinOrg(_) => "join_org",
            Self::LeaveOrg(_) => "leave_org",
            Self::SetRole(_) => "set_role",
            Self::SetRegion(_) => "set_region",
            Self::Register(_) => "register",
            Self::CareStart(_) => "care_start",
            Self::CareEnd(_) => "care_end",
            Self::Object(_) => "object",
            Self::Withdraw(_) => "withdraw",
            Self::Attorney(_) => "attorney",
            Self::RevokeAttorney(_) => "revoke_attorney",
            Self::Grant(_) => "grant",
            Self::RevokePermission(_) => "revoke_permission",
            Self::Wait(_) => "wait",
        }
    }
}

/// An organisation joins the agreement.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct JoinOrg {
    pub(crate) ods: String,
    /// Defaults to the ODS code.
    pub(crate) name: Option<String>,
    pub(crate) region: String,
}

/// An organisation leaves the agreement.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LeaveOrg {
    pub(crate) ods: String,
}

/// A role's sections and purposes, replacing its current policy.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetRole {
    pub(crate) code: String,
    /// Defaults to the role code.
    pub(crate) description: Option<String>,
    pub(crate) sections: Vec<Named<pb::RecordSection>>,
    pub(crate) purposes: Vec<Named<pb::Purpose>>,
    #[serde(default)]
    pub(crate) clinical: bool,
}

/// A region's policy, replacing its current one (every field restated).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetRegion {
    pub(crate) code: String,
    /// Defaults to the region code.
    pub(crate) name: Option<String>,
    pub(crate) consent_model: Named<pb::ConsentModel>,
    pub(crate) minimum_age: u32,
    #[serde(default)]
    pub(crate) viewing_regions: Vec<String>,
    #[serde(default)]
    pub(crate) break_glass: bool,
    #[serde(default)]
    pub(crate) self_claimed_relationship: bool,
    #[serde(default)]
    pub(crate) review_within_days: u32,
    #[serde(default)]
    pub(crate) secondary_use_pseudonymised: bool,
    pub(crate) children_social_care_from: Option<RelativeDate>,
}

/// A GP registration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Register {
    pub(crate) nhs: String,
    pub(crate) practice: String,
    pub(crate) dob: RelativeDate,
}

/// A care relationship starts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CareStart {
    pub(crate) nhs: String,
    pub(crate) org: String,
    pub(crate) kind: Named<pb::CareRelationshipKind>,
    pub(crate) relationship: String,
}

/// A care relationship ends.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CareEnd {
    pub(crate) nhs: String,
    pub(crate) relationship: String,
}

/// An objection recorded or withdrawn, by the patient or an attorney.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Objection {
    pub(crate) nhs: String,
    /// Defaults to `direct_care`.
    pub(crate) scope: Option<Named<pb::ObjectionScope>>,
    pub(crate) attorney: Option<String>,
}

/// A verified power of attorney.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Attorney {
    pub(crate) nhs: String,
    pub(crate) attorney: String,
    pub(crate) kind: Named<pb::PowerOfAttorneyKind>,
    /// Defaults to `scenario`.
    pub(crate) verified_by: Option<String>,
    /// Defaults to `today`.
    pub(crate) valid_from: Option<RelativeDate>,
    /// Open-ended when absent.
    pub(crate) valid_until: Option<RelativeDate>,
}

/// A power of attorney revoked.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RevokeAttorney {
    pub(crate) nhs: String,
    pub(crate) attorney: String,
}

/// The patient's permission for an organisation to view, until an instant.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Grant {
    pub(crate) nhs: String,
    pub(crate) org: String,
    pub(crate) until: RelativeInstant,
    pub(crate) attorney: Option<String>,
}

/// A permission to view revoked.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RevokePermission {
    pub(crate) nhs: String,
    pub(crate) org: String,
    pub(crate) attorney: Option<String>,
}

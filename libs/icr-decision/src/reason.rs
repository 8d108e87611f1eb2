//! The reason vocabulary of decisions and their human explanations.
//!
//! When several facts would deny a request, the decision names the one a
//! support desk acts on first, in this order:
//!
//! 1. `unknown_role`: the requester's job role has no policy, whoever the
//!    patient is.
//! 2. `organisation_not_in_agreement`: the requester's organisation is not
//!    in the agreement at all, whoever the patient is.
//! 3. `outside_population`: the patient is not in the ICR.
//! 4. `region_may_not_view`: the organisation is in the agreement, but its
//!    region does not view the patient's region.
//! 5. the other deny rules of `policies/rules.csv`, in file order
//!    (`objection_active`, `no_care_relationship`, …).
//! 6. `role_not_permitted`: nothing else denies, but the role may not see
//!    this section for this purpose.
//!
//! What the requester lacks whatever the patient is comes first: it is what
//! needs fixing before anything about the patient matters, and it tells an
//! organisation outside the agreement nothing about the patient.

use crate::facts::Fact;

/// Reasons the engine itself gives. Deny rules in `policies/rules.csv` give
/// the name of the fact that fired (e.g. `objection_active`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// A role policy allows this role to see this section for this purpose.
    RolePermitsSection,
    /// The requester's role has no policy at all.
    UnknownRole,
    /// The role exists but may not see this section for this purpose.
    RoleNotPermitted,
    /// The requester's organisation is not in the agreement at all.
    OrganisationNotInAgreement,
    /// The requester's organisation is in the agreement, but its region is
    /// not one of the regions that may view the patient's region (the
    /// patient's region's `viewing_regions`).
    RegionMayNotView,
    /// casbin returned an error while evaluating.
    EvaluationFailed,
    /// A panic while evaluating, in casbin or in computing the decision.
    EvaluationPanicked,
}

impl Reason {
    /// Every reason the engine itself gives.
    pub const ALL: [Self; 7] = [
        Self::RolePermitsSection,
        Self::UnknownRole,
        Self::RoleNotPermitted,
        Self::OrganisationNotInAgreement,
        Self::RegionMayNotView,
        Self::EvaluationFailed,
        Self::EvaluationPanicked,
    ];

    /// The reason code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RolePermitsSection => "role_permits_section",
            Self::UnknownRole => "unknown_role",
            Self::RoleNotPermitted => "role_not_permitted",
            Self::OrganisationNotInAgreement => "organisation_not_in_agreement",
            Self::RegionMayNotView => "region_may_not_view",
            Self::EvaluationFailed => "evaluation_failed",
            Self::EvaluationPanicked => "evaluation_panicked",
        }
    }
}

/// A short human explanation of a reason code: the engine's own, or the
/// `denial` wording of the fact a deny rule names (declared in
/// [`crate::Facts`]).
pub fn explain(reason: &str) -> String {
    let text = match reason {
        "role_permits_section" => "the requester's role may see this section and no rule denies it",
        "unknown_role" => "the requester's job role has no access policy",
        "role_not_permitted" => {
            "the requester's job role may not see this section for this purpose"
        }
        "organisation_not_in_agreement" => {
            "the requester's organisation is not in the sharing agreement"
        }
        "region_may_not_view" => {
            "the requester's organisation is in the agreement, but its region may not view patients of the patient's region"
        }
        "evaluation_failed" => "the decision could not be evaluated, so access is denied",
        "evaluation_panicked" => "the decision failed unexpectedly, so access is denied",
        "policy_unavailable" => "the access policy could not be loaded, so access is denied",
        other => match Fact::named(other).and_then(|fact| fact.denial) {
            Some(denial) => denial,
            None => return format!("denied by the policy rule for '{other}'"),
        },
    };
    text.to_owned()
}

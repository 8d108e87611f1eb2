//! Wording a deny: which of the facts that fail the decision names.

use casbin::CoreApi;

use super::{AccessRequest, Engine, Facts, ORG, VIEWERS_OF};
use crate::reason::Reason;

impl Engine {
    /// Names the reason for a deny casbin gave, `rule` being the `when`
    /// fact of the deny rule that matched, if one did. When several facts
    /// fail, the reason is the one a support desk acts on first (the order
    /// is in [`crate::reason`]): what the requester lacks whoever the
    /// patient is, then the patient's population, then whether the
    /// organisation's region views the patient's region, then the rule.
    /// This only words the reason; the decision was casbin's.
    pub(super) fn deny_reason(
        &self,
        request: &AccessRequest<'_>,
        facts: &Facts,
        rule: Option<&str>,
    ) -> String {
        let engine_reason = if !self.roles.contains(request.role_code) {
            Some(Reason::UnknownRole)
        } else if !self.members.contains(request.organisation_ods) {
            Some(Reason::OrganisationNotInAgreement)
        } else if !facts.outside_population && !self.region_views(request) {
            Some(Reason::RegionMayNotView)
        } else {
            None
        };
        match (engine_reason, rule) {
            (Some(reason), _) => reason.as_str().to_owned(),
            (None, Some(fact)) => fact.to_owned(),
            (None, None) => Reason::RoleNotPermitted.as_str().to_owned(),
        }
    }

    /// Whether the requester's organisation is in a region that may view
    /// the patient's region, as the `g` lines casbin decided with say.
    fn region_views(&self, request: &AccessRequest<'_>) -> bool {
        let org = format!("{ORG}{}", request.organisation_ods);
        let viewers = format!("{VIEWERS_OF}{}", request.patient_region);
        let rm = self.enforcer.get_role_manager();
        rm.read().has_link(&org, &viewers, None)
    }
}

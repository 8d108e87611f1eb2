//! The policy projection: organisations in the agreement, role policies and
//! region policies, as the latest event for each left them.

use std::collections::{BTreeMap, BTreeSet};

use icr_decision::{PolicySet, RolePolicy};
use icr_events::StreamId;
use icr_events::codes::{purpose_name, section_name};
use icr_proto::pb::event_payload::Kind;
use icr_proto::pb::{EventPayload, Purpose, RecordSection, RegionPolicySet};

/// Current policy. Small (hundreds of entries), so it is cloned freely to
/// build a new decision engine off the hot path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyState {
    /// ODS code → (name, region) for organisations in the agreement.
    pub organisations: BTreeMap<String, (String, String)>,
    /// Role code → role policy.
    pub roles: BTreeMap<String, RolePolicy>,
    /// Region code → region policy.
    pub regions: BTreeMap<String, RegionPolicySet>,
    /// Role codes of clinical roles (may use break glass where permitted).
    pub clinical_roles: BTreeSet<String>,
    /// Policy stream (`organisation/RKB`, `role/R8000`, `region/QWU`) → log
    /// position of its latest event, for explaining decisions.
    pub sources: BTreeMap<String, u64>,
    /// Policy stream → its latest event. Each stream sets one entry of the
    /// state above, so these events alone rebuild it: what a snapshot keeps.
    latest: BTreeMap<String, (u64, EventPayload)>,
}

impl PolicyState {
    /// Whether the payload changes policy.
    pub fn is_policy_event(payload: &EventPayload) -> bool {
        matches!(
            payload.kind,
            Some(
                Kind::OrganisationJoined(_)
                    | Kind::OrganisationLeft(_)
                    | Kind::RolePolicySet(_)
                    | Kind::RegionPolicySet(_)
            )
        )
    }

    /// Folds a policy event found at log `position`; other events are ignored.
    pub fn apply(&mut self, position: u64, payload: &EventPayload) {
        if !Self::is_policy_event(payload) {
            return;
        }
        if let Some(stream) = StreamId::of(payload) {
            let stream = stream.to_string();
            self.sources.insert(stream.clone(), position);
            self.latest.insert(stream, (position, payload.clone()));
        }
        match payload.kind.as_ref() {
            Some(Kind::OrganisationJoined(e)) => {
                self.organisations
                    .insert(e.ods_code.clone(), (e.name.clone(), e.region.clone()));
            }
            Some(Kind::OrganisationLeft(e)) => {
                self.organisations.remove(&e.ods_code);
            }
            Some(Kind::RolePolicySet(e)) => {
                // Unknown enum numbers are dropped: a section this build does
                // not know can never be granted.
                let sections = e
                    .sections
                    .iter()
                    .filter_map(|&s| RecordSection::try_from(s).ok())
                    .filter(|s| *s != RecordSection::Unspecified)
                    .map(section_name)
                    .collect();
                let purposes = e
                    .purposes
                    .iter()
                    .filter_map(|&p| Purpose::try_from(p).ok())
                    .filter(|p| *p != Purpose::Unspecified)
                    .map(purpose_name)
                    .collect();
                if e.clinical {
                    self.clinical_roles.insert(e.role_code.clone());
                } else {
                    self.clinical_roles.remove(&e.role_code);
                }
                let role = RolePolicy {
                    role_code: e.role_code.clone(),
                    sections,
                    purposes,
                };
                self.roles.insert(e.role_code.clone(), role);
            }
            Some(Kind::RegionPolicySet(e)) => {
                self.regions.insert(e.region.clone(), e.clone());
            }
            _ => {}
        }
    }

    /// The latest event of each policy stream, with its log position, in
    /// position order: folding them gives this state again.
    pub fn latest_events(&self) -> Vec<(u64, &EventPayload)> {
        let mut events: Vec<_> = self.latest.values().map(|(p, e)| (*p, e)).collect();
        events.sort_unstable_by_key(|(position, _)| *position);
        events
    }

    /// The region an organisation belongs to, while it is in the agreement.
    pub fn region_of(&self, ods: &str) -> Option<&str> {
        self.organisations
            .get(ods)
            .map(|(_, region)| region.as_str())
    }

    /// What the decision engine is built from.
    pub fn policy_set(&self) -> PolicySet {
        PolicySet {
            roles: self.roles.values().cloned().collect(),
            organisations: self
                .organisations
                .iter()
                .map(|(ods, (_, region))| (ods.clone(), region.clone()))
                .collect(),
            regions: self
                .regions
                .values()
                .map(|r| (r.region.clone(), r.viewing_regions.clone()))
                .collect(),
        }
    }
}

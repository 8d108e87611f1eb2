//! The "obvious casbin" peer: one casbin policy line per patient fact and a
//! matcher that looks for them, the way casbin is usually first written.
//! casbin checks a request against every policy line in turn, so its cost
//! grows with the number of patients; ours keeps patient facts out of
//! casbin (`PolicySet` has no per-patient lines) for that reason.
//!
//! Lines, loaded from the projections:
//! - `p, <ODS>, <NHS number>, direct_care, allow`: a care relationship (the
//!   loader writes it only for an organisation in the agreement in a region
//!   that may view the patient's region, so the region rules are decided
//!   at load time, not per request);
//! - `p, *, <NHS number>, <purpose>, deny`: an objection covering the purpose;
//! - `p, *, <NHS number>, *, deny`: outside the population (not registered in
//!   the agreement, or under the region's minimum age: computed at load, so
//!   it goes stale as a child comes of age without an event);
//! - `g, <role>, <section>` and `g2, <role>, <purpose>`: role policies.
//!
//! Not covered: own-organisation data, break glass, self-claimed
//! relationships, permission to view, children's social care.

use casbin::{CoreApi, DefaultModel, Enforcer, MemoryAdapter, MgmtApi};
use icr_events::codes::{purpose_name, section_name};
use icr_projections::{Projections, age_on};
use icr_proto::pb::{Purpose, RecordSection};

use crate::common::{Ask, World, now};

/// The model: deny overrides allow; a line applies to its patient, its
/// organisation (or `*`) and its purpose (or `*`), for a role whose policy
/// has the section and the purpose.
const MODEL: &str = r#"
[request_definition]
r = role, org, patient, section, purpose

[policy_definition]
p = org, patient, purpose, eft

[role_definition]
g = _, _
g2 = _, _

[policy_effect]
e = some(where (p.eft == allow)) && !some(where (p.eft == deny))

[matchers]
m = r.patient == p.patient && (p.org == r.org || p.org == "*") && (p.purpose == r.purpose || p.purpose == "*") && g(r.role, r.section) && g2(r.role, r.purpose)
"#;

/// A casbin enforcer holding every patient fact as a line.
pub(crate) struct NaiveCasbin {
    enforcer: Enforcer,
    /// Number of `p` lines loaded.
    pub(crate) lines: usize,
}

/// The `p` lines for every patient the projections know.
fn patient_lines(projections: &Projections, patients: u32) -> Vec<Vec<String>> {
    let policy = projections.policy();
    let today = icr_events::uk_date(now());
    let mut lines = Vec::new();
    let line = |org: &str, nhs: &str, purpose: &str, eft: &str| {
        [org, nhs, purpose, eft].map(str::to_owned).to_vec()
    };
    for i in 0..patients {
        let nhs_number = icr_events::NhsNumber::synthetic(i);
        let Some(patient) = projections.patient(&nhs_number) else {
            continue;
        };
        let nhs = nhs_number.to_string();
        let registration = patient.registration();
        let region = registration.and_then(|r| policy.region_of(r.gp_practice_ods.as_str()));
        let region_policy = region.and_then(|r| policy.regions.get(r));
        let in_population = match (registration, region_policy) {
            (Some(r), Some(p)) => {
                let age = age_on(r.date_of_birth, today);
                u32::try_from(age).is_ok_and(|age| age >= p.minimum_age)
            }
            _ => false,
        };
        if !in_population {
            lines.push(line("*", &nhs, "*", "deny"));
        }
        for purpose in [Purpose::DirectCare, Purpose::SecondaryUse] {
            if patient.objects_to(purpose) {
                lines.push(line("*", &nhs, &purpose_name(purpose), "deny"));
            }
        }
        for relationship in patient.care_relationships() {
            let org = relationship.organisation_ods.as_str();
            let may_view = match (policy.region_of(org), region, region_policy) {
                (Some(org_region), Some(region), Some(p)) => {
                    org_region == region || p.viewing_regions.iter().any(|v| v == org_region)
                }
                _ => false,
            };
            if may_view {
                lines.push(line(org, &nhs, "direct_care", "allow"));
            }
        }
    }
    lines
}

impl NaiveCasbin {
    /// Loads the role policies and every patient's lines.
    pub(crate) async fn load(world: &World) -> Self {
        let model = DefaultModel::from_str(MODEL).await.expect("model parses");
        let mut enforcer = Enforcer::new(model, MemoryAdapter::default())
            .await
            .expect("enforcer");
        let mut sections = Vec::new();
        let mut purposes = Vec::new();
        for role in world.projections.policy().roles.values() {
            for section in &role.sections {
                sections.push(vec![role.role_code.clone(), section.clone()]);
            }
            for purpose in &role.purposes {
                purposes.push(vec![role.role_code.clone(), purpose.clone()]);
            }
        }
        enforcer
            .add_grouping_policies(sections)
            .await
            .expect("role sections");
        enforcer
            .add_named_grouping_policies("g2", purposes)
            .await
            .expect("role purposes");
        let lines = patient_lines(&world.projections, world.patients);
        let count = lines.len();
        enforcer.add_policies(lines).await.expect("patient lines");
        Self {
            enforcer,
            lines: count,
        }
    }

    /// Decides each section; returns how many allowed.
    pub(crate) fn decide(&self, ask: &Ask, sections: &[RecordSection]) -> usize {
        let nhs = ask.nhs_number.to_string();
        let purpose = purpose_name(ask.purpose);
        sections
            .iter()
            .filter(|&&s| {
                let section = section_name(s);
                let request = (
                    ask.role_code,
                    ask.organisation_ods,
                    nhs.as_str(),
                    section.as_str(),
                    purpose.as_str(),
                );
                self.enforcer.enforce(request).expect("casbin evaluates")
            })
            .count()
    }
}

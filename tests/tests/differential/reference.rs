//! A plain reference evaluator of the access semantics, written from
//! `policies/README.md` and `policies/rules.csv` alone.
//!
//! It shares nothing with the service but the wire types and the fact
//! vocabulary (`icr_decision::Facts`, the one declaration of the facts): its
//! own fold of the raw log into maps, its own age arithmetic, its own reading
//! of enum numbers, its own computation of every fact, and its own reading of
//! the deny rules in file order. It is meant to be obviously right rather
//! than fast.

use std::collections::{BTreeMap, BTreeSet};

use icr_decision::Facts;
use icr_proto::pb::RecordedEvent;
use icr_proto::pb::event_payload::Kind;
use jiff::civil::Date;

use super::rules::{Rule, rules};

/// Section enum numbers and their names in the policy files (types.proto).
pub(crate) const SECTIONS: [(i32, &str); 19] = [
    (1, "demographics"),
    (2, "contacts"),
    (3, "care_team"),
    (4, "conditions"),
    (5, "treatments_and_procedures"),
    (6, "medications"),
    (7, "allergies"),
    (8, "test_results_pathology"),
    (9, "test_results_radiology"),
    (10, "test_results_observations"),
    (11, "documents_and_letters"),
    (12, "appointments_and_referrals"),
    (13, "care_plans"),
    (14, "mental_health"),
    (15, "social_care_assessments"),
    (16, "social_care_plans"),
    (17, "social_care_event_dates"),
    (18, "safeguarding_alerts"),
    (19, "safeguarding_dols"),
];

/// What the reference concludes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    /// A role policy allows and no rule denies.
    Allow,
    /// Denied, for this reason: the first that holds in the order
    /// `policies/README.md` gives (the requester's role and organisation,
    /// the population, the organisation's region, the deny rules in file
    /// order, the role's sections).
    DeniedBy(&'static str),
}

/// One access request, in policy-file vocabulary.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Question<'a> {
    pub(crate) nhs_number: &'a str,
    pub(crate) role_code: &'a str,
    pub(crate) section: &'a str,
    /// `direct_care`, `secondary_use`, or anything else (allowed nowhere).
    pub(crate) purpose: &'a str,
    pub(crate) organisation_ods: &'a str,
    pub(crate) source_organisation_ods: &'a str,
    pub(crate) break_glass: bool,
    pub(crate) self_claimed: bool,
    pub(crate) access_reason: &'a str,
    /// Decision instant, as (seconds, nanos) since the Unix epoch.
    pub(crate) now: (i64, i32),
    /// The calendar date in the UK at `now`.
    pub(crate) uk_today: Date,
}

#[derive(Debug, Default)]
struct Region {
    opt_out: bool,
    minimum_age: u32,
    viewing_regions: Vec<String>,
    break_glass: bool,
    self_claim: bool,
    children_social_care_from: String,
}

#[derive(Debug, Default)]
struct Role {
    sections: BTreeSet<&'static str>,
    purposes: BTreeSet<&'static str>,
    clinical: bool,
}

#[derive(Debug, Default)]
struct Patient {
    /// (GP practice, date of birth).
    registration: Option<(String, Date)>,
    /// Active objections by scope number.
    objections: BTreeSet<i32>,
    /// An event this build cannot read might be an objection of any scope.
    unreadable: bool,
    /// Relationship id → organisation.
    care: BTreeMap<String, String>,
    /// Organisation → lapse instant (seconds, nanos).
    permissions: BTreeMap<String, (i64, i32)>,
}

impl Patient {
    /// Scope numbers (types.proto): 1 direct care, 2 secondary use, 3 the
    /// Summary Care Record (bars no ICR purpose); any other covers everything.
    fn objects_to(&self, purpose: &str) -> bool {
        let bars = |scope: i32| match scope {
            1 => purpose == "direct_care",
            2 => purpose == "secondary_use",
            3 => false,
            _ => true,
        };
        self.unreadable || self.objections.iter().any(|&s| bars(s))
    }
}

/// Policy and patients as the log leaves them.
#[derive(Debug, Default)]
pub(crate) struct World {
    regions: BTreeMap<String, Region>,
    /// Organisation in the agreement → its region.
    members: BTreeMap<String, String>,
    roles: BTreeMap<String, Role>,
    patients: BTreeMap<String, Patient>,
    /// The deny rules of `rules.csv`, in file order.
    rules: Vec<Rule>,
}

impl World {
    /// Folds the whole log.
    pub(crate) fn fold(events: &[RecordedEvent]) -> Self {
        let mut world = Self {
            rules: rules(),
            ..Self::default()
        };
        for event in events {
            world.apply(event);
        }
        world
    }

    fn apply(&mut self, event: &RecordedEvent) {
        let Some(payload) = &event.payload else {
            return;
        };
        let patient = event.stream.strip_prefix("patient/").map(str::to_owned);
        let Some(kind) = &payload.kind else {
            if let Some(nhs) = patient {
                self.patients.entry(nhs).or_default().unreadable = true;
            }
            return;
        };
        match kind {
            Kind::OrganisationJoined(e) => {
                self.members.insert(e.ods_code.clone(), e.region.clone());
            }
            Kind::OrganisationLeft(e) => {
                self.members.remove(&e.ods_code);
            }
            Kind::RolePolicySet(e) => {
                let role = Role {
                    sections: e.sections.iter().filter_map(|&n| section_name(n)).collect(),
                    purposes: e.purposes.iter().filter_map(|&n| purpose_name(n)).collect(),
                    clinical: e.clinical,
                };
                self.roles.insert(e.role_code.clone(), role);
            }
            Kind::RegionPolicySet(e) => {
                let region = Region {
                    opt_out: e.consent_model == 1,
                    minimum_age: e.minimum_age,
                    viewing_regions: e.viewing_regions.clone(),
                    break_glass: e.break_glass,
                    self_claim: e.self_claimed_relationship,
                    children_social_care_from: e.children_social_care_from.clone(),
                };
                self.regions.insert(e.region.clone(), region);
            }
            other => {
                if let Some(nhs) = patient {
                    self.patients.entry(nhs).or_default().apply(other);
                }
            }
        }
    }

    /// The decision: a role with no policy, then an organisation outside
    /// the agreement; then the population, then whether the organisation's
    /// region views the patient's; then the deny rules in `rules.csv` order;
    /// then allow if the role may see the section for the purpose.
    pub(crate) fn decide(&self, q: &Question<'_>) -> Answer {
        let Some(role) = self.roles.get(q.role_code) else {
            return Answer::DeniedBy("unknown_role");
        };
        let Some(member_of) = self.members.get(q.organisation_ods) else {
            return Answer::DeniedBy("organisation_not_in_agreement");
        };
        let patient = self.patients.get(q.nhs_number);
        let registration = patient.and_then(|p| p.registration.as_ref());
        let home = registration.and_then(|(practice, dob)| {
            let region_code = self.members.get(practice)?;
            let region = self.regions.get(region_code)?;
            Some((region_code, region, age_on(*dob, q.uk_today)))
        });
        let (Some(patient), Some((region_code, region, age))) = (patient, home) else {
            return Answer::DeniedBy("outside_population");
        };
        if age < i64::from(region.minimum_age) {
            return Answer::DeniedBy("outside_population");
        }
        let views = member_of == region_code || region.viewing_regions.contains(member_of);
        if !views {
            return Answer::DeniedBy("region_may_not_view");
        }
        let own = !q.source_organisation_ods.is_empty()
            && q.source_organisation_ods == q.organisation_ods;
        let permitted = patient
            .permissions
            .get(q.organisation_ods)
            .is_some_and(|&until| q.now < until);
        let reason_missing = q.access_reason.trim().is_empty();
        let children_gated = match region.children_social_care_from.as_str() {
            "" => false,
            from => from.parse::<Date>().map_or(true, |from| from > q.uk_today),
        };
        // Every declared fact, computed from README's "true when" column.
        // The literal names every field: a newly declared fact does not
        // compile here until the reference computes it too.
        let facts = Facts {
            outside_population: false, // handled above
            objection_active: patient.objects_to(q.purpose),
            no_care_relationship: !patient.care.values().any(|o| o == q.organisation_ods),
            permission_to_view_missing: !region.opt_out && !permitted,
            own_organisation_data: own,
            break_glass: q.break_glass,
            break_glass_permitted: region.break_glass && role.clinical,
            self_claimed_relationship: q.self_claimed,
            self_claim_permitted: region.self_claim,
            access_reason_missing: (q.break_glass || q.self_claimed) && reason_missing,
            child_social_care_not_yet_shared: age < 18 && children_gated,
        };
        if let Some(rule) = self.rules.iter().find(|rule| rule.denies(q, &facts)) {
            return Answer::DeniedBy(rule.when);
        }
        if role.sections.contains(q.section) && role.purposes.contains(q.purpose) {
            Answer::Allow
        } else {
            Answer::DeniedBy("role_not_permitted")
        }
    }
}

impl Patient {
    fn apply(&mut self, kind: &Kind) {
        match kind {
            Kind::PatientRegistered(e) => {
                // An unreadable date of birth leaves nobody in a population.
                self.registration = e
                    .date_of_birth
                    .parse()
                    .ok()
                    .map(|dob| (e.gp_practice_ods.clone(), dob));
            }
            Kind::ObjectionRecorded(e) => {
                self.objections.insert(e.scope);
            }
            Kind::ObjectionWithdrawn(e) => {
                self.objections.remove(&e.scope);
            }
            Kind::CareRelationshipStarted(e) => {
                self.care
                    .insert(e.relationship_id.clone(), e.organisation_ods.clone());
            }
            Kind::CareRelationshipEnded(e) => {
                self.care.remove(&e.relationship_id);
            }
            Kind::PermissionToViewGranted(e) => {
                // The generator always sets `until`.
                if let Some(until) = &e.until {
                    self.permissions
                        .insert(e.organisation_ods.clone(), (until.seconds, until.nanos));
                }
            }
            Kind::PermissionToViewRevoked(e) => {
                self.permissions.remove(&e.organisation_ods);
            }
            _ => {}
        }
    }
}

fn section_name(number: i32) -> Option<&'static str> {
    SECTIONS.iter().find(|(n, _)| *n == number).map(|(_, s)| *s)
}

fn purpose_name(number: i32) -> Option<&'static str> {
    match number {
        1 => Some("direct_care"),
        2 => Some("secondary_use"),
        _ => None,
    }
}

/// Whole years on `today`. The birthday of someone born on 29 February is
/// 1 March in common years.
fn age_on(dob: Date, today: Date) -> i64 {
    let years = i64::from(today.year()) - i64::from(dob.year());
    let birthday = Date::new(today.year(), dob.month(), dob.day())
        .unwrap_or_else(|_| Date::new(today.year(), 3, 1).expect("1 March exists"));
    if today < birthday { years - 1 } else { years }
}

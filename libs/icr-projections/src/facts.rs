//! From an access request to the facts the decision engine combines.

use icr_decision::Facts;
use icr_events::{NhsNumber, uk_date};
use icr_proto::pb::{AccessMode, ConsentModel, Purpose};
use jiff::Timestamp;
use jiff::civil::Date;

use crate::Projections;

/// Age from which social care counts as adults' social care.
const ADULT_AGE: i32 = 18;

/// The parts of an access request the projections look up.
#[derive(Debug, Clone, Copy)]
pub struct FactQuery<'a> {
    /// The patient.
    pub nhs_number: &'a NhsNumber,
    /// Purpose of use.
    pub purpose: Purpose,
    /// Requester's national RBAC role code.
    pub role_code: &'a str,
    /// Requester's organisation.
    pub organisation_ods: &'a str,
    /// Organisation the data comes from (empty when not given).
    pub source_organisation_ods: &'a str,
    /// How the requester claims the right to see the record.
    pub access_mode: AccessMode,
    /// Why, for break glass and self-claimed relationships.
    pub access_reason: &'a str,
    /// Decision time.
    pub now: Timestamp,
}

/// Facts about a request, the patient's region they were judged in, and
/// what an allow obliges the viewer to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestFacts {
    /// Region of the patient's GP practice; empty when unknown.
    pub patient_region: String,
    /// The facts.
    pub facts: Facts,
    /// Log positions of the events behind the facts and the policy used.
    pub sources: Vec<u64>,
    /// Days within which an exceptional access must be reviewed.
    pub review_within_days: u32,
    /// Secondary use must only see pseudonymised data.
    pub pseudonymise: bool,
}

/// Age in whole years on `on`. Someone born on 29 February turns a year older
/// on 1 March in common years, as in English law.
pub fn age_on(date_of_birth: Date, on: Date) -> i32 {
    let had_birthday = (on.month(), on.day()) >= (date_of_birth.month(), date_of_birth.day());
    i32::from(on.year() - date_of_birth.year()) - i32::from(!had_birthday)
}

impl Projections {
    /// Computes the facts of one request. A patient the projections do not
    /// know, or whose practice or region has no policy, is outside the
    /// population. Every uncertainty resolves towards a deny.
    pub fn facts(&self, query: &FactQuery<'_>) -> RequestFacts {
        let policy = self.policy();
        let today = uk_date(query.now);
        let patient = self.patient(query.nhs_number);
        let registration = patient.and_then(|p| p.registration());
        let region = registration.and_then(|r| policy.region_of(r.gp_practice_ods.as_str()));
        let region_policy = region.and_then(|r| policy.regions.get(r));
        let age = registration.map(|r| age_on(r.date_of_birth, today));
        let in_population = match (age, region_policy) {
            (Some(age), Some(p)) => {
                age >= 0 && u32::try_from(age).is_ok_and(|age| age >= p.minimum_age)
            }
            _ => false,
        };
        let permission_needed =
            region_policy.is_none_or(|p| p.consent_model() != ConsentModel::OptOut);
        let child_social_care_gated = region_policy.is_some_and(|p| {
            let from = &p.children_social_care_from;
            // An unreadable date keeps children's social care closed.
            !from.is_empty() && from.parse::<Date>().ok().is_none_or(|from| today < from)
        });
        let org = query.organisation_ods;
        let break_glass = query.access_mode == AccessMode::BreakGlass;
        let self_claimed = query.access_mode == AccessMode::SelfClaimedRelationship;
        // Every fact declared in `icr_decision::Facts` is computed here. The
        // literal names each field (never `..`), so a newly declared fact
        // does not compile until it is computed.
        let facts = Facts {
            outside_population: !in_population,
            objection_active: patient.is_some_and(|p| p.objects_to(query.purpose)),
            no_care_relationship: !patient.is_some_and(|p| p.has_care_relationship(org)),
            permission_to_view_missing: permission_needed
                && !patient.is_some_and(|p| p.has_permission_to_view(org, query.now)),
            own_organisation_data: !query.source_organisation_ods.is_empty()
                && query.source_organisation_ods == org,
            break_glass,
            break_glass_permitted: region_policy.is_some_and(|p| p.break_glass)
                && policy.clinical_roles.contains(query.role_code),
            self_claimed_relationship: self_claimed,
            self_claim_permitted: region_policy.is_some_and(|p| p.self_claimed_relationship),
            // A reason must say something: at least one letter or digit.
            access_reason_missing: (break_glass || self_claimed)
                && !query.access_reason.chars().any(char::is_alphanumeric),
            child_social_care_not_yet_shared: child_social_care_gated
                && age.is_none_or(|age| age < ADULT_AGE),
        };
        RequestFacts {
            patient_region: region.unwrap_or_default().to_owned(),
            facts,
            sources: self.sources_of(
                query,
                registration.map(|r| r.gp_practice_ods.as_str()),
                region,
            ),
            review_within_days: region_policy.map_or(0, |p| p.review_within_days),
            pseudonymise: region_policy.is_none_or(|p| p.secondary_use_pseudonymised),
        }
    }

    /// Log positions of the events a decision on `query` rests on: the
    /// patient's registration, objections, care relationships and permission
    /// of the requester's organisation, and the policy streams consulted.
    fn sources_of(
        &self,
        query: &FactQuery<'_>,
        practice: Option<&str>,
        region: Option<&str>,
    ) -> Vec<u64> {
        let policy = self.policy();
        let streams = [
            practice.map(|ods| format!("organisation/{ods}")),
            region.map(|r| format!("region/{r}")),
            Some(format!("organisation/{}", query.organisation_ods)),
            Some(format!("role/{}", query.role_code)),
        ];
        let mut positions: Vec<u64> = streams
            .iter()
            .flatten()
            .filter_map(|s| policy.sources.get(s).copied())
            .collect();
        if let Some(patient) = self.patient(query.nhs_number) {
            positions.extend(patient.registration_source());
            positions.extend(patient.objection_sources(query.purpose));
            positions.extend(patient.permission_source(query.organisation_ods));
            positions.extend(
                patient
                    .care_relationships()
                    .iter()
                    .filter(|r| r.organisation_ods == query.organisation_ods)
                    .map(|r| r.position),
            );
        }
        positions.sort_unstable();
        positions.dedup();
        positions
    }
}

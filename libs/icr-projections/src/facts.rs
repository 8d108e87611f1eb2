//! From an access request to the facts the decision engine combines.

use icr_decision::Facts;
use icr_events::{NhsNumber, uk_date};
use icr_proto::pb::{ConsentModel, Purpose};
use jiff::Timestamp;
use jiff::civil::Date;

use crate::Projections;

/// The parts of an access request the projections look up.
#[derive(Debug, Clone, Copy)]
pub struct FactQuery<'a> {
    /// The patient.
    pub nhs_number: &'a NhsNumber,
    /// Purpose of use.
    pub purpose: Purpose,
    /// Requester's organisation.
    pub organisation_ods: &'a str,
    /// Organisation the data comes from (empty when not given).
    pub source_organisation_ods: &'a str,
    /// Decision time.
    pub now: Timestamp,
}

/// Facts about a request, and the patient's region they were judged in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestFacts {
    /// Region of the patient's GP practice; empty when unknown.
    pub patient_region: String,
    /// The facts.
    pub facts: Facts,
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
    /// population.
    pub fn facts(&self, query: &FactQuery<'_>) -> RequestFacts {
        let patient = self.patient(query.nhs_number);
        let registration = patient.and_then(|p| p.registration.as_ref());
        let region = registration.and_then(|r| self.policy.region_of(&r.gp_practice_ods));
        let region_policy = region.and_then(|r| self.policy.regions.get(r));
        let in_population = match (registration, region_policy) {
            (Some(reg), Some(policy)) => {
                let age = age_on(reg.date_of_birth, uk_date(query.now));
                age >= 0 && u32::try_from(age).is_ok_and(|age| age >= policy.minimum_age)
            }
            _ => false,
        };
        let permission_needed =
            region_policy.is_none_or(|p| p.consent_model() != ConsentModel::OptOut);
        let org = query.organisation_ods;
        let facts = Facts {
            outside_population: !in_population,
            objection_active: patient.is_some_and(|p| p.objects_to(query.purpose)),
            no_care_relationship: !patient.is_some_and(|p| p.has_care_relationship(org)),
            permission_to_view_missing: permission_needed
                && !patient.is_some_and(|p| p.has_permission_to_view(org, query.now)),
            own_organisation_data: !query.source_organisation_ods.is_empty()
                && query.source_organisation_ods == org,
        };
        RequestFacts {
            patient_region: region.unwrap_or_default().to_owned(),
            facts,
        }
    }
}

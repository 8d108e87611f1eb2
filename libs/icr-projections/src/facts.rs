//! From an access request to the facts the decision engine combines: the
//! projections look up what the request concerns, and
//! [`Facts::compute`] computes each fact as `icr_decision` declares it.

use icr_decision::{FactInputs, FactQuery, Facts};

use crate::Projections;

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

impl Projections {
    /// Computes the facts of one request. A patient the projections do not
    /// know, or whose practice or region has no policy, is outside the
    /// population. Every uncertainty resolves towards a deny.
    pub fn facts(&self, query: &FactQuery<'_>) -> RequestFacts {
        let policy = self.policy();
        let patient = self.patient(query.nhs_number);
        let registration = patient.and_then(|p| p.registration());
        let region = registration.and_then(|r| policy.region_of(r.gp_practice_ods.as_str()));
        let region_policy = region.and_then(|r| policy.regions.get(r));
        let inputs = FactInputs::new(query, patient, region_policy, &policy.clinical_roles);
        RequestFacts {
            patient_region: region.unwrap_or_default().to_owned(),
            facts: Facts::compute(&inputs),
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

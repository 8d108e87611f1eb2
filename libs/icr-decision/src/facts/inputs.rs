//! What the facts of one request are computed from.
//!
//! The projections own the state (patients, policy) and look up what a
//! request concerns; the declaration in [`super`] says what each fact makes
//! of it. So the lookups stay with the data, and each fact's computation
//! stays with its name and meaning.

use std::collections::BTreeSet;

use icr_events::{NhsNumber, Patient, uk_date};
use icr_proto::pb::{AccessMode, Purpose, RegionPolicySet};
use jiff::Timestamp;
use jiff::civil::Date;

/// The parts of an access request the facts depend on.
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

/// One request with what the projections hold about it: the input of
/// [`super::Facts::compute`]. Built once per request, borrowing
/// everything, so computing the facts allocates nothing.
#[derive(Debug, Clone, Copy)]
pub struct FactInputs<'a> {
    /// The request.
    pub(super) query: &'a FactQuery<'a>,
    /// The patient's state; `None` when no event concerned them.
    pub(super) patient: Option<&'a Patient>,
    /// The policy of the region of the patient's GP practice; `None` when
    /// the patient, the practice or the region's policy is unknown.
    pub(super) region: Option<&'a RegionPolicySet>,
    /// Role codes of the roles marked clinical.
    pub(super) clinical_roles: &'a BTreeSet<String>,
    /// The decision date in the UK.
    pub(super) today: Date,
    /// The patient's age in whole years on `today`, once registered.
    pub(super) age: Option<i32>,
}

impl<'a> FactInputs<'a> {
    /// The inputs of `query`, given the patient's state, their region's
    /// policy and the clinical roles, as the projections hold them.
    #[inline]
    pub fn new(
        query: &'a FactQuery<'a>,
        patient: Option<&'a Patient>,
        region: Option<&'a RegionPolicySet>,
        clinical_roles: &'a BTreeSet<String>,
    ) -> Self {
        let today = uk_date(query.now);
        let age = patient
            .and_then(Patient::registration)
            .map(|r| age_on(r.date_of_birth, today));
        Self {
            query,
            patient,
            region,
            clinical_roles,
            today,
            age,
        }
    }
}

/// Age in whole years on `on`. Someone born on 29 February turns a year older
/// on 1 March in common years, as in English law.
pub fn age_on(date_of_birth: Date, on: Date) -> i32 {
    let had_birthday = (on.month(), on.day()) >= (date_of_birth.month(), date_of_birth.day());
    i32::from(on.year() - date_of_birth.year()) - i32::from(!had_birthday)
}

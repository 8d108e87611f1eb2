//! The warning `care register-patient` prints when the service says the
//! registration, though recorded, leaves the patient outside the ICR's
//! population (`RegisterPatientResponse.outside_population`), rather than
//! leave the operator to find out from a stream of `outside_population`
//! denies.

/// The warning for patient `nhs_number` whose registration the service
/// answered with `outside_population`; `None` when that is empty.
pub(crate) fn warning(nhs_number: &str, outside_population: &str) -> Option<String> {
    (!outside_population.is_empty()).then(|| {
        format!(
            "warning: recorded, but {outside_population}: patient {nhs_number} is outside \
             this ICR's population, and every request for their record is denied \
             (outside_population) until the practice joins (`consent-cli policy join-org`) \
             or its region gets a policy (`consent-cli policy set-region`)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_warning_says_why_and_what_brings_the_patient_in() {
        assert_eq!(
            warning(
                "9434765919",
                "practice Y99999 is not in the sharing agreement"
            )
            .as_deref(),
            Some(
                "warning: recorded, but practice Y99999 is not in the sharing agreement: \
                 patient 9434765919 is outside this ICR's population, and every request for \
                 their record is denied (outside_population) until the practice joins \
                 (`consent-cli policy join-org`) or its region gets a policy (`consent-cli \
                 policy set-region`)"
            )
        );
        assert_eq!(warning("9434765919", ""), None);
    }
}

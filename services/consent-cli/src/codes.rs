//! NHS numbers and ODS codes as people type them, read into the one form
//! the service records: `943 476 5919` (as NHS letters print it) is
//! 9434765919, and `rkb` is RKB. The reading is the one the service does
//! (`icr_events`), so hints and output quote what the log holds.
//!
//! A value that does not read is passed on as typed: the service refuses
//! it with `InvalidArgument` naming the field, in the same words for every
//! client.

use std::convert::Infallible;

/// An `--nhs` value: its ten digits when it is a valid NHS number in any
/// accepted writing, otherwise as typed.
pub(crate) fn nhs_number(value: &str) -> Result<String, Infallible> {
    Ok(value
        .parse::<icr_events::NhsNumber>()
        .map_or_else(|_| value.to_owned(), |number| number.to_string()))
}

/// An ODS code value: upper-case when it is a valid code, otherwise as
/// typed.
pub(crate) fn ods_code(value: &str) -> Result<String, Infallible> {
    Ok(icr_events::codes::ods_code("ods", value).unwrap_or_else(|_| value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nhs_letters_and_lower_case_codes_read_as_the_log_holds_them() {
        assert_eq!(nhs_number("943 476 5919"), Ok("9434765919".to_owned()));
        assert_eq!(nhs_number("943-476-5919"), Ok("9434765919".to_owned()));
        assert_eq!(nhs_number("9434 765 919"), Ok("9434 765 919".to_owned()));
        assert_eq!(ods_code("rkb"), Ok("RKB".to_owned()));
        assert_eq!(ods_code("r kb"), Ok("r kb".to_owned()));
    }
}

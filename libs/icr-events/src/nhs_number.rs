//! NHS numbers: ten digits, the last a Modulus 11 check digit.

use std::fmt;
use std::str::FromStr;

/// A syntactically valid NHS number (ten digits with a correct check digit),
/// kept as the integer its digits spell (leading zeros implied): 8 bytes, and
/// ordered as the digits are.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NhsNumber(u64);

/// Why a string is not an NHS number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NhsNumberError {
    /// Not exactly ten ASCII digits (spaces are not accepted).
    #[error("must be exactly 10 digits")]
    Format,
    /// The Modulus 11 check digit does not match.
    #[error("check digit is wrong (Modulus 11)")]
    CheckDigit,
}

/// One more than the largest ten-digit number.
const TEN_DIGITS: u64 = 10_000_000_000;

impl NhsNumber {
    /// How many distinct [`NhsNumber::synthetic`] numbers exist.
    pub const SYNTHETIC: u32 = 50_000_000;

    /// The `n`th synthetic number for generated test data (`n` below
    /// [`NhsNumber::SYNTHETIC`]): a valid number beginning with 9, a range
    /// England does not issue to patients. Distinct `n` give distinct numbers.
    pub fn synthetic(n: u32) -> Self {
        let n = u64::from(n % Self::SYNTHETIC);
        // Of two neighbouring numbers at most one has the invalid check
        // value 10 (the sums differ by 2), so one of them is valid.
        let base = 900_000_000 + 2 * n;
        [base, base + 1]
            .into_iter()
            .find_map(|first_nine| Some(Self(first_nine * 10 + check_digit(first_nine)?)))
            // Unreachable (see above); 9000000009 is valid.
            .unwrap_or(Self(9_000_000_009))
    }

    /// The ten digits as text.
    pub fn as_string(&self) -> String {
        self.to_string()
    }

    /// The number as an integer (leading zeros are implied).
    pub fn as_u64(&self) -> u64 {
        self.0
    }

    /// The number whose ten digits (leading zeros implied) spell `n`, if its
    /// check digit is right; `n` is below 10^10.
    fn checked(n: u64) -> Result<Self, NhsNumberError> {
        match check_digit(n / 10) {
            Some(expected) if expected == n % 10 => Ok(Self(n)),
            _ => Err(NhsNumberError::CheckDigit),
        }
    }
}

/// The Modulus 11 check digit for the number spelt by the first nine digits,
/// or `None` when the remainder makes the number invalid (check value 10).
/// The first digit weighs 10, the ninth 2.
fn check_digit(first_nine: u64) -> Option<u64> {
    let mut rest = first_nine;
    let mut sum = 0;
    for weight in 2..=10 {
        sum += (rest % 10) * weight;
        rest /= 10;
    }
    match 11 - (sum % 11) {
        11 => Some(0),
        10 => None,
        n => Some(n),
    }
}

impl FromStr for NhsNumber {
    type Err = NhsNumberError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = s.as_bytes();
        if bytes.len() != 10 || !bytes.iter().all(u8::is_ascii_digit) {
            return Err(NhsNumberError::Format);
        }
        let n = bytes.iter().fold(0, |n, &b| n * 10 + u64::from(b - b'0'));
        Self::checked(n)
    }
}

impl TryFrom<u64> for NhsNumber {
    type Error = NhsNumberError;

    /// The number whose ten digits (with leading zeros) spell `n`.
    fn try_from(n: u64) -> Result<Self, Self::Error> {
        if n >= TEN_DIGITS {
            return Err(NhsNumberError::Format);
        }
        Self::checked(n)
    }
}

/// Kept as an integer (compact in snapshots); read back through the check
/// digit, so a stored number is valid or refused.
impl serde::Serialize for NhsNumber {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(self.as_u64())
    }
}

impl<'de> serde::Deserialize<'de> for NhsNumber {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let n = <u64 as serde::Deserialize>::deserialize(deserializer)?;
        Self::try_from(n).map_err(|e| serde::de::Error::custom(format!("NHS number {n}: {e}")))
    }
}

impl fmt::Display for NhsNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:010}", self.0)
    }
}

/// The ten digits, leading zeros included: `NhsNumber(9434765919)`.
impl fmt::Debug for NhsNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NhsNumber({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn synthetic_numbers_are_valid_and_distinct() {
        let numbers: std::collections::HashSet<_> = (0..10_000)
            .chain(NhsNumber::SYNTHETIC - 10..NhsNumber::SYNTHETIC)
            .map(NhsNumber::synthetic)
            .collect();
        assert_eq!(numbers.len(), 10_010);
        for n in &numbers {
            assert_eq!(n.as_string().parse::<NhsNumber>().as_ref(), Ok(n));
        }
    }

    proptest! {
        #[test]
        fn the_integer_form_reads_back_only_valid_numbers(n in 0u64..20_000_000_000) {
            let parsed = NhsNumber::try_from(n);
            let text = format!("{n:010}").parse::<NhsNumber>();
            prop_assert_eq!(parsed.is_ok(), n < 10_000_000_000 && text.is_ok());
            if let Ok(number) = parsed {
                prop_assert_eq!(number.as_u64(), n);
                prop_assert_eq!(Ok(number), text);
            }
        }
    }

    #[test]
    fn text_and_debug_keep_leading_zeros() {
        let n: NhsNumber = "0000000000"
            .parse()
            .expect("valid: the check digit of zeros is 0");
        assert_eq!(n.as_u64(), 0);
        assert_eq!(n.to_string(), "0000000000");
        assert_eq!(format!("{n:?}"), "NhsNumber(0000000000)");
        assert_eq!(std::mem::size_of::<NhsNumber>(), 8);
    }

    #[test]
    fn accepts_published_valid_numbers() {
        for n in ["9434765919", "9434765870", "4010232137", "9990548609"] {
            assert!(n.parse::<NhsNumber>().is_ok(), "{n}");
        }
    }

    #[test]
    fn rejects_wrong_check_digit_and_format() {
        assert_eq!(
            "9434765918".parse::<NhsNumber>(),
            Err(NhsNumberError::CheckDigit)
        );
        assert_eq!(
            "943 476 5919".parse::<NhsNumber>(),
            Err(NhsNumberError::Format)
        );
        assert_eq!(
            "943476591".parse::<NhsNumber>(),
            Err(NhsNumberError::Format)
        );
        assert_eq!("".parse::<NhsNumber>(), Err(NhsNumberError::Format));
    }

    #[test]
    fn rejects_numbers_whose_check_value_is_ten() {
        // 1000000010 → weighted sum 1*10 + 1*2 = 12, 11 - 1 = 10: never valid.
        for last in 0..=9 {
            assert!(format!("100000001{last}").parse::<NhsNumber>().is_err());
        }
    }

    proptest! {
        #[test]
        fn exactly_one_check_digit_fits_unless_none_does(prefix in "[0-9]{9}") {
            let valid: Vec<_> = (0..=9)
                .filter(|d| format!("{prefix}{d}").parse::<NhsNumber>().is_ok())
                .collect();
            prop_assert!(valid.len() <= 1);
            for d in valid {
                let n: NhsNumber = format!("{prefix}{d}").parse().expect("valid");
                prop_assert_eq!(n.to_string(), format!("{prefix}{d}"));
            }
        }

        #[test]
        fn arbitrary_strings_never_panic(s in ".*") {
            let _ = s.parse::<NhsNumber>();
        }
    }
}

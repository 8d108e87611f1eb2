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
    /// Not ten ASCII digits, written together or in the 3-3-4 groups of
    /// [`NhsNumber::from_str`].
    #[error(
        "must be 10 digits, written together (9434765919) or in groups of 3, 3 and 4 \
         split by single spaces or hyphens (943 476 5919)"
    )]
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

/// The ten digits of `s` when it is written as ten digits together, or as
/// NHS letters and cards print it: groups of 3, 3 and 4 digits split by
/// one space (`943 476 5919`) or one hyphen (`943-476-5919`), the same
/// separator both times. Any other grouping or character is `None`: it
/// could be a mistyped or different number.
fn ten_digits(s: &str) -> Option<[u8; 10]> {
    let bytes = s.as_bytes();
    let mut digits = [0; 10];
    match bytes.len() {
        10 => digits.copy_from_slice(bytes),
        12 if bytes[3] == bytes[7] && matches!(bytes[3], b' ' | b'-') => {
            digits[..3].copy_from_slice(&bytes[..3]);
            digits[3..6].copy_from_slice(&bytes[4..7]);
            digits[6..].copy_from_slice(&bytes[8..]);
        }
        _ => return None,
    }
    digits.iter().all(u8::is_ascii_digit).then_some(digits)
}

impl FromStr for NhsNumber {
    type Err = NhsNumberError;

    /// Ten digits with a correct check digit, written together or in the
    /// 3-3-4 groups NHS letters print (`943 476 5919`, `943-476-5919`).
    /// Its [`Display`](fmt::Display) is always the ten digits together.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = ten_digits(s).ok_or(NhsNumberError::Format)?;
        let n = digits.iter().fold(0, |n, &b| n * 10 + u64::from(b - b'0'));
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
            "943476591".parse::<NhsNumber>(),
            Err(NhsNumberError::Format)
        );
        assert_eq!("".parse::<NhsNumber>(), Err(NhsNumberError::Format));
    }

    #[test]
    fn the_3_3_4_groups_of_nhs_letters_read_as_the_ten_digits() {
        for written in ["943 476 5919", "943-476-5919"] {
            let n: NhsNumber = written.parse().expect(written);
            assert_eq!(n.to_string(), "9434765919", "{written}");
        }
        assert_eq!(
            "943 476 5918".parse::<NhsNumber>(),
            Err(NhsNumberError::CheckDigit),
            "the check digit is still checked"
        );
    }

    #[test]
    fn other_groupings_and_stray_characters_are_refused() {
        for written in [
            "9434 765 919",
            "94 3476 5919",
            "943 4765919",
            "943476 5919",
            "943-476 5919",
            "943  476 5919",
            " 9434765919",
            "9434765919 ",
            "943 476 591x",
            "943.476.5919",
            "943_476_5919",
            "９４３４７６５９１９",
        ] {
            assert_eq!(
                written.parse::<NhsNumber>(),
                Err(NhsNumberError::Format),
                "{written:?}"
            );
        }
        assert_eq!(
            NhsNumberError::Format.to_string(),
            "must be 10 digits, written together (9434765919) or in groups of 3, 3 and 4 \
             split by single spaces or hyphens (943 476 5919)"
        );
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

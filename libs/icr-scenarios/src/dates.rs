//! Dates, instants and pauses written relative to when a scenario runs.
//!
//! A scenario about "an 18-year-old" must stay true next year, so dates are
//! written from `today` (the UK calendar date, as the service judges ages)
//! and instants from `now`:
//!
//! - date: `YYYY-MM-DD`, or `today` followed by signed terms in `y` (years),
//!   `m` (months), `w` (weeks), `d` (days): `today-18y+1d`.
//! - instant: an RFC 3339 timestamp, or `now` followed by signed terms in
//!   `d`, `h`, `m` (minutes), `s`, `ms`: `now+2s`.
//! - pause: unsigned terms in `m`, `s`, `ms`: `1500ms`, `1s500ms`.
//!
//! Terms apply left to right, so `today-18y+1d` is the day after the date
//! eighteen years ago; a 29 February that does not exist becomes the 28th.
//! Parsing happens when the file is loaded; resolving, when the step runs.

use std::time::Duration;

use jiff::civil::Date;
use jiff::{SignedDuration, Span, Timestamp};
use serde::Deserialize;

/// Largest amount one term may carry: enough for any scenario, small enough
/// that no unit overflows.
const MAX_AMOUNT: i64 = 999_999;
/// Longest pause a scenario may take (the suite runs in CI).
const MAX_PAUSE: Duration = Duration::from_secs(60);

/// One `+3d` term: a signed amount and its unit.
type Term = (i64, String);

/// Splits `text` into terms. With `signed`, each term starts with `+` or `-`.
fn terms(text: &str, signed: bool) -> Result<Vec<Term>, String> {
    let mut rest = text;
    let mut out = Vec::new();
    while !rest.is_empty() {
        let (sign, after_sign) = match rest.as_bytes()[0] {
            b'+' if signed => (1, &rest[1..]),
            b'-' if signed => (-1, &rest[1..]),
            _ if signed => return Err(format!("expected `+` or `-` before `{rest}`")),
            _ => (1, rest),
        };
        let digits = after_sign.len()
            - after_sign
                .trim_start_matches(|c: char| c.is_ascii_digit())
                .len();
        let after_digits = &after_sign[digits..];
        let letters = after_digits.len()
            - after_digits
                .trim_start_matches(|c: char| c.is_ascii_alphabetic())
                .len();
        if digits == 0 || letters == 0 {
            return Err(format!("expected a number and a unit at `{rest}`"));
        }
        let amount: i64 = after_sign[..digits]
            .parse()
            .ok()
            .filter(|amount| *amount <= MAX_AMOUNT)
            .ok_or_else(|| format!("`{}` is too large", &after_sign[..digits]))?;
        out.push((sign * amount, after_digits[..letters].to_owned()));
        rest = &after_digits[letters..];
    }
    Ok(out)
}

/// A calendar date: fixed, or `today` plus offsets.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
pub(crate) enum RelativeDate {
    /// A fixed date.
    Fixed(Date),
    /// Today's UK date moved by each span in turn.
    Today(Vec<Span>),
}

impl TryFrom<String> for RelativeDate {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        let Some(offsets) = text.strip_prefix("today") else {
            return text.parse::<Date>().map(Self::Fixed).map_err(|_| {
                format!(
                    "`{text}` is neither YYYY-MM-DD nor `today` with offsets like `today-18y+1d`"
                )
            });
        };
        let spans = terms(offsets, true)
            .and_then(|terms| {
                terms
                    .into_iter()
                    .map(|(amount, unit)| {
                        let span = Span::new();
                        match unit.as_str() {
                            "y" => span.try_years(amount),
                            "m" => span.try_months(amount),
                            "w" => span.try_weeks(amount),
                            "d" => span.try_days(amount),
                            other => {
                                return Err(format!("unknown date unit `{other}` (y, m, w, d)"));
                            }
                        }
                        .map_err(|e| e.to_string())
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(|e| format!("`{text}`: {e}"))?;
        Ok(Self::Today(spans))
    }
}

impl RelativeDate {
    /// The date, counted from `today`.
    pub(crate) fn resolve(&self, today: Date) -> Result<Date, String> {
        match self {
            Self::Fixed(date) => Ok(*date),
            Self::Today(spans) => spans.iter().try_fold(today, |date, span| {
                date.checked_add(*span).map_err(|e| e.to_string())
            }),
        }
    }
}

/// An instant: fixed, or `now` plus offsets.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub(crate) enum RelativeInstant {
    /// A fixed instant.
    Fixed(Timestamp),
    /// The moment the step runs, moved by this much.
    Now(SignedDuration),
}

impl TryFrom<String> for RelativeInstant {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        let Some(offsets) = text.strip_prefix("now") else {
            return text.parse::<Timestamp>().map(Self::Fixed).map_err(|_| {
                format!(
                    "`{text}` is neither an RFC 3339 timestamp nor `now` with offsets like `now+1d`"
                )
            });
        };
        let mut total = SignedDuration::ZERO;
        for (amount, unit) in terms(offsets, true).map_err(|e| format!("`{text}`: {e}"))? {
            total += match unit.as_str() {
                "d" => SignedDuration::from_hours(amount * 24),
                "h" => SignedDuration::from_hours(amount),
                "m" => SignedDuration::from_mins(amount),
                "s" => SignedDuration::from_secs(amount),
                "ms" => SignedDuration::from_millis(amount),
                other => {
                    return Err(format!(
                        "`{text}`: unknown time unit `{other}` (d, h, m, s, ms)"
                    ));
                }
            };
        }
        Ok(Self::Now(total))
    }
}

impl RelativeInstant {
    /// The instant, counted from `now`.
    pub(crate) fn resolve(&self, now: Timestamp) -> Result<Timestamp, String> {
        match self {
            Self::Fixed(instant) => Ok(*instant),
            Self::Now(offset) => now.checked_add(*offset).map_err(|e| e.to_string()),
        }
    }
}

/// How long a `wait` step pauses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub(crate) struct Pause(pub(crate) Duration);

impl TryFrom<String> for Pause {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        let mut total = Duration::ZERO;
        let unsigned = terms(&text, false).map_err(|e| format!("`{text}`: {e}"))?;
        if unsigned.is_empty() {
            return Err("a pause needs a length such as `1500ms`".into());
        }
        for (amount, unit) in unsigned {
            let amount = amount.unsigned_abs();
            total += match unit.as_str() {
                "m" => Duration::from_secs(amount * 60),
                "s" => Duration::from_secs(amount),
                "ms" => Duration::from_millis(amount),
                other => return Err(format!("`{text}`: unknown unit `{other}` (m, s, ms)")),
            };
        }
        if total > MAX_PAUSE {
            return Err(format!(
                "`{text}` is longer than the {}s limit",
                MAX_PAUSE.as_secs()
            ));
        }
        Ok(Self(total))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn relative_date(text: &str) -> Result<RelativeDate, String> {
        RelativeDate::try_from(text.to_owned())
    }

    #[test]
    fn dates_count_from_today_left_to_right() {
        let today = date(2026, 3, 15);
        let resolve = |text: &str| relative_date(text).and_then(|d| d.resolve(today));
        assert_eq!(resolve("today"), Ok(today));
        assert_eq!(resolve("today-18y"), Ok(date(2008, 3, 15)));
        assert_eq!(resolve("today-18y+1d"), Ok(date(2008, 3, 16)));
        assert_eq!(resolve("today+3d"), Ok(date(2026, 3, 18)));
        assert_eq!(resolve("today-1m-2w"), Ok(date(2026, 2, 1)));
        assert_eq!(resolve("1970-01-01"), Ok(date(1970, 1, 1)));
    }

    #[test]
    fn a_missing_29_february_becomes_the_28th() {
        let resolved = relative_date("today-1y").and_then(|d| d.resolve(date(2028, 2, 29)));
        assert_eq!(resolved, Ok(date(2027, 2, 28)));
    }

    #[test]
    fn bad_dates_are_refused() {
        for text in [
            "yesterday",
            "today-18",
            "today18y",
            "today-18x",
            "2026-02-30",
            "today-9999999y",
        ] {
            assert!(relative_date(text).is_err(), "{text}");
        }
    }

    #[test]
    fn instants_count_from_now() {
        let now: Timestamp = "2026-03-15T12:00:00Z".parse().expect("timestamp");
        let resolve =
            |text: &str| RelativeInstant::try_from(text.to_owned()).and_then(|i| i.resolve(now));
        assert_eq!(
            resolve("now+2s"),
            Ok("2026-03-15T12:00:02Z".parse().expect("ts"))
        );
        assert_eq!(
            resolve("now+1d-1h"),
            Ok("2026-03-16T11:00:00Z".parse().expect("ts"))
        );
        assert_eq!(
            resolve("now+250ms"),
            Ok("2026-03-15T12:00:00.25Z".parse().expect("ts"))
        );
        assert!(resolve("now+1y").is_err());
        assert!(resolve("tomorrow").is_err());
    }

    #[test]
    fn pauses_are_short_and_unsigned() {
        let pause = |text: &str| Pause::try_from(text.to_owned()).map(|p| p.0);
        assert_eq!(pause("1500ms"), Ok(Duration::from_millis(1500)));
        assert_eq!(pause("1s500ms"), Ok(Duration::from_millis(1500)));
        assert!(pause("-1s").is_err());
        assert!(pause("").is_err());
        assert!(pause("2h").is_err());
        assert!(pause("5m").is_err());
    }
}

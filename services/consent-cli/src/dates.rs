//! Dates and timestamps on the command line and in output.
//!
//! The API carries calendar dates as `YYYY-MM-DD` strings and instants as
//! `google.protobuf.Timestamp`; prost's own RFC 3339 parser and printer do
//! the work, so no date crate is needed.

use prost_types::Timestamp;

/// Checks a `YYYY-MM-DD` calendar date (a real one: no 30 February) and
/// returns it unchanged, ready for a string field.
pub(crate) fn parse_date(text: &str) -> Result<String, String> {
    let shaped = text.len() == 10
        && text.bytes().enumerate().all(|(index, byte)| match index {
            4 | 7 => byte == b'-',
            _ => byte.is_ascii_digit(),
        });
    if shaped && text.parse::<Timestamp>().is_ok() {
        Ok(text.to_owned())
    } else {
        Err(format!("`{text}` is not a date in the form YYYY-MM-DD"))
    }
}

/// Parses an RFC 3339 instant such as `2026-03-31T23:59:59Z`. A bare date is
/// refused: "until 2026-03-31" would silently mean midnight at its start.
pub(crate) fn parse_timestamp(text: &str) -> Result<Timestamp, String> {
    let has_time = text.len() > 10;
    match text.parse::<Timestamp>() {
        Ok(timestamp) if has_time => Ok(timestamp),
        _ => Err(format!(
            "`{text}` is not an RFC 3339 timestamp such as 2026-03-31T23:59:59Z"
        )),
    }
}

/// Seconds in a calendar day (UTC has no leap seconds in protobuf time).
const DAY_SECONDS: i64 = 24 * 60 * 60;

/// The start of a `--since` window: an RFC 3339 instant, or a `YYYY-MM-DD`
/// date meaning the start of that day (UTC).
pub(crate) fn parse_since(text: &str) -> Result<Timestamp, String> {
    instant_or_day(text).map(|(start, _)| start)
}

/// The (exclusive) end of an `--until` window: an RFC 3339 instant, or a
/// `YYYY-MM-DD` date meaning up to the end of that day (UTC), so
/// `--since 2026-03-01 --until 2026-03-31` is the whole of March.
pub(crate) fn parse_until(text: &str) -> Result<Timestamp, String> {
    instant_or_day(text).map(|(_, end)| end)
}

/// An instant (start and end both it), or a day's first instant and the
/// next day's.
fn instant_or_day(text: &str) -> Result<(Timestamp, Timestamp), String> {
    if let Ok(date) = parse_date(text) {
        let start = format!("{date}T00:00:00Z")
            .parse::<Timestamp>()
            .map_err(|error| format!("`{text}`: {error}"))?;
        let end = Timestamp {
            seconds: start.seconds + DAY_SECONDS,
            nanos: 0,
        };
        return Ok((start, end));
    }
    match parse_timestamp(text) {
        Ok(instant) => Ok((instant, instant)),
        Err(_) => Err(format!(
            "`{text}` is neither a date (YYYY-MM-DD, UTC) nor an RFC 3339 timestamp \
             such as 2026-03-31T23:59:59Z"
        )),
    }
}

/// An instant as RFC 3339 text, if there is one.
pub(crate) fn format_timestamp(timestamp: Option<&Timestamp>) -> Option<String> {
    timestamp.map(ToString::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_dates_pass_unchanged() {
        assert_eq!(parse_date("2024-02-29"), Ok("2024-02-29".to_owned()));
    }

    #[test]
    fn impossible_or_misshapen_dates_are_refused() {
        for text in [
            "2023-02-29",
            "2024-2-1",
            "01/02/2024",
            "2024-01-01T00:00:00Z",
            "",
        ] {
            assert!(parse_date(text).is_err(), "{text}");
        }
    }

    #[test]
    fn timestamps_need_a_time_and_print_back_as_rfc3339() {
        let until = parse_timestamp("2026-03-31T23:59:59+01:00").expect("valid timestamp");
        assert_eq!(
            format_timestamp(Some(&until)).as_deref(),
            Some("2026-03-31T22:59:59Z")
        );
        assert!(parse_timestamp("2026-03-31").is_err());
        assert!(parse_timestamp("tomorrow").is_err());
    }

    #[test]
    fn a_date_window_covers_whole_days() {
        let since = parse_since("2026-03-01").expect("date");
        let until = parse_until("2026-03-31").expect("date");
        assert_eq!(
            format_timestamp(Some(&since)).as_deref(),
            Some("2026-03-01T00:00:00Z")
        );
        assert_eq!(
            format_timestamp(Some(&until)).as_deref(),
            Some("2026-04-01T00:00:00Z")
        );
        let instant = parse_until("2026-03-31T12:00:00Z").expect("instant");
        assert_eq!(
            format_timestamp(Some(&instant)).as_deref(),
            Some("2026-03-31T12:00:00Z")
        );
        assert!(parse_since("2026-02-30").is_err());
        assert!(parse_since("yesterday").is_err());
    }
}

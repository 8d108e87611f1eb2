//! A data directory the log refuses to open, said as the log says it, and
//! with `--json` as one line a script can act on.

use std::path::Path;

use anyhow::anyhow;
use icr_log::LogError;
use serde_json::json;

use crate::output::{self, Output};

/// Why the directory could not be opened, in the log's own words: a log
/// missing acknowledged records, damaged storage, a directory in use, a
/// record of what was acknowledged unreadable or gone. With `--json`, one
/// line saying `verified: false` and the kind of refusal.
pub(super) fn refused(error: LogError, dir: &Path, output: Output) -> anyhow::Error {
    let message = match &error {
        LogError::Lost(_)
        | LogError::Damaged(_)
        | LogError::Locked(_)
        | LogError::AcknowledgedUnreadable(_)
        | LogError::AcknowledgedMissing(_) => error.to_string(),
        other => format!("cannot open the log in {}: {other}", dir.display()),
    };
    if output.is_json()
        && let Err(printed) = output::json_line(&refusal_json(&error, &message))
    {
        return printed.into();
    }
    anyhow!("{message}")
}

/// The JSON line of a refusal: its kind, its message, and what is known
/// of the loss or the damage.
fn refusal_json(error: &LogError, message: &str) -> serde_json::Value {
    let mut line = json!({"verified": false, "reason": message});
    let range =
        |r: &Option<std::ops::RangeInclusive<u64>>| r.as_ref().map(|r| json!([r.start(), r.end()]));
    let (kind, details) = match error {
        LogError::Lost(lost) => (
            "lost",
            json!({
                "missing_events": range(&lost.events),
                "missing_decisions": range(&lost.decisions),
                "replaced": lost.replaced.map(|(chain, at)| json!([chain.name(), at])),
            }),
        ),
        LogError::Damaged(damage) => (
            "damaged",
            json!({
                "offset": damage.offset,
                "blob": damage.blob,
                "acknowledged_event_position": damage.acknowledged.map(|h| h.events),
                "acknowledged_decision_position": damage.acknowledged.map(|h| h.decisions),
            }),
        ),
        LogError::Locked(_) => ("locked", json!({})),
        LogError::AcknowledgedUnreadable(_) => ("acknowledged_record_unreadable", json!({})),
        LogError::AcknowledgedMissing(_) => ("acknowledged_record_missing", json!({})),
        _ => ("unreadable", json!({})),
    };
    line["kind"] = json!(kind);
    if let (Some(line), Some(details)) = (line.as_object_mut(), details.as_object()) {
        line.extend(details.clone());
    }
    line
}

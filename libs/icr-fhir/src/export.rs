//! Many decision records at once: a JSON `Bundle`, or NDJSON.

use std::io::Write;

use icr_proto::pb::DecisionRecord;

use crate::ExportError;
use crate::audit_event::{AuditSource, audit_event};
use crate::model::{Bundle, BundleEntry};

/// The records as one FHIR `Bundle` of type `collection`, in the order
/// given (audit order, when read from the decision audit).
///
/// For an export small enough to hold in memory; [`write_ndjson`] streams.
pub fn audit_events_bundle<'a>(
    records: impl IntoIterator<Item = &'a DecisionRecord>,
    source: &AuditSource,
) -> Result<Bundle, ExportError> {
    let entry = records
        .into_iter()
        .map(|record| audit_event(record, source).map(|resource| BundleEntry { resource }))
        .collect::<Result<_, _>>()?;
    Ok(Bundle {
        bundle_type: "collection".to_owned(),
        entry,
    })
}

/// Writes one `AuditEvent` per line, as FHIR Bulk Data exports do
/// (`application/fhir+ndjson`, <https://hl7.org/fhir/uv/bulkdata/>), and
/// returns how many lines were written.
///
/// Stops at the first record that cannot be converted, after writing the
/// lines before it; the caller should treat the output as incomplete.
pub fn write_ndjson<'a>(
    records: impl IntoIterator<Item = &'a DecisionRecord>,
    source: &AuditSource,
    mut out: impl Write,
) -> Result<u64, ExportError> {
    let mut lines = 0;
    for record in records {
        let event = audit_event(record, source)?;
        // serde_json's compact form never contains a raw newline: newlines
        // inside strings are escaped, so each event is exactly one line.
        serde_json::to_writer(&mut out, &event)?;
        out.write_all(b"\n")?;
        lines += 1;
    }
    Ok(lines)
}

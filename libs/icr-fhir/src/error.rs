//! Why an export failed, and what the caller should do about it.

/// An export that could not be completed.
///
/// Nothing is ever exported with a made-up value in place of a bad one: an
/// auditor must be able to trust every line.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// A decision record lacks something an AuditEvent requires, or holds a
    /// value FHIR cannot carry. Records read back from the decision audit
    /// always have these, so this means the record did not come from it (or
    /// the audit is damaged): report it, do not retry.
    #[error("decision record {decision_id:?}: {problem}")]
    InvalidRecord {
        /// The record's decision id as found (may be empty).
        decision_id: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A log event could not be converted to or from proto3 JSON. On export
    /// this is a bug (the event came from our own types); on import the
    /// line is not a `RecordedEvent` this build understands.
    #[error("recorded event is not valid proto3 JSON: {0}")]
    EventJson(String),
    /// Serialising or writing the output failed; for a file or socket the
    /// export is incomplete and should be run again.
    #[error("could not write the export")]
    Write(#[from] serde_json::Error),
    /// Writing a line failed; as for [`ExportError::Write`].
    #[error("could not write the export")]
    Io(#[from] std::io::Error),
}

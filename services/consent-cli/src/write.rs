//! What every write command shares: the request id that makes a retry safe,
//! the optimistic-concurrency check on a patient's record, and the receipt.

use anyhow::Result;
use clap::Args;
use icr_proto::pb::WriteResult;
use serde_json::json;

use crate::failure;
use crate::output::Output;

/// Options of every write.
#[derive(Args, Debug, Clone)]
pub(crate) struct WriteOptions {
    /// Idempotency key of this change. After a failure, run the same command
    /// with the same id and the service applies it at most once. Defaults to
    /// a fresh ULID, printed with the result and in retry hints.
    // Generated when the command line is parsed, so one run uses one id in
    // its request, its output and its error hints.
    #[arg(long, value_name = "ID", default_value_t = ulid::Ulid::new().to_string(), hide_default_value = true)]
    pub(crate) request_id: String,
}

/// Options of a write to one patient's record.
#[derive(Args, Debug, Clone)]
pub(crate) struct PatientWriteOptions {
    #[command(flatten)]
    pub(crate) write: WriteOptions,
    /// Apply only if the patient's record is still at this stream version
    /// (see `consent status`); without it the change applies to whatever is
    /// current.
    #[arg(long, value_name = "VERSION")]
    pub(crate) expected_version: Option<u64>,
}

impl PatientWriteOptions {
    /// The request id of this write.
    pub(crate) fn request_id(&self) -> &str {
        &self.write.request_id
    }
}

/// Fields of a write's receipt, in the order people read them.
const RECEIPT_FIELDS: &[&str] = &[
    "event_id",
    "log_position",
    "stream_version",
    "replayed",
    "request_id",
];

/// The result of a write response, which the API always fills in.
pub(crate) fn written(result: Option<WriteResult>) -> Result<WriteResult> {
    result.ok_or_else(|| failure::missing("result"))
}

/// Prints the receipt of a write. `replayed` says the request id had been
/// seen before and nothing new was appended: the earlier write's receipt.
pub(crate) fn print_receipt(output: Output, result: &WriteResult, request_id: &str) -> Result<()> {
    let receipt = json!({
        "event_id": result.event_id.as_str(),
        "log_position": result.log_position,
        "stream_version": result.stream_version,
        "replayed": result.replayed,
        "request_id": request_id,
    });
    output.record(RECEIPT_FIELDS, &receipt)?;
    Ok(())
}

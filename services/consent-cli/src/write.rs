//! What every write command shares: the request id that makes a retry safe,
//! the optimistic-concurrency check on a patient's record, and the receipt.

use anyhow::Result;
use clap::Args;
use icr_proto::pb::WriteResult;
use serde_json::json;
use tonic::Status;

use crate::caller::Caller;
use crate::failure::{self, CallContext};
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

    /// The fields this write to `nhs_number`'s record carries in every
    /// request, for [`patient_request!`].
    pub(crate) fn header(&self, nhs_number: &str, caller: &Caller) -> PatientWrite {
        PatientWrite {
            request_id: self.request_id().to_owned(),
            nhs_number: nhs_number.to_owned(),
            user_id: caller.user_id(),
            expected_stream_version: self.expected_version,
        }
    }

    /// The service's answer to this write to `nhs_number`'s record; a
    /// refusal becomes the error that names the patient and the request id
    /// to retry with.
    pub(crate) fn answered<T>(&self, nhs_number: &str, answer: Result<T, Status>) -> Result<T> {
        let call = CallContext::patient_write(self.request_id(), nhs_number);
        answer.map_err(|status| call.rejected(status))
    }
}

/// The fields every write to one patient's record carries besides the
/// change itself: the same names in every such request of the API.
#[derive(Debug, Clone)]
pub(crate) struct PatientWrite {
    /// Idempotency key of the write.
    pub(crate) request_id: String,
    /// NHS number of the patient whose record changes.
    pub(crate) nhs_number: String,
    /// The person making the change.
    pub(crate) user_id: String,
    /// The optimistic-concurrency check, if any.
    pub(crate) expected_stream_version: Option<u64>,
}

/// Builds a write request to one patient's record: the [`PatientWrite`]
/// fields from `$header`, the change's own as listed. The literal names
/// every field, so a field added to the API fails to compile here rather
/// than going out empty.
macro_rules! patient_request {
    ($header:expr, $request:ident { $($field:ident $(: $value:expr)?),* $(,)? }) => {{
        let header: $crate::write::PatientWrite = $header;
        $request {
            request_id: header.request_id,
            nhs_number: header.nhs_number,
            user_id: header.user_id,
            expected_stream_version: header.expected_stream_version,
            $($field $(: $value)?,)*
        }
    }};
}
pub(crate) use patient_request;

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

//! The one place domain errors become gRPC statuses.
//!
//! A refusal that names a request field also carries a `google.rpc.BadRequest`
//! with one field violation (the field's path and the reason), so that a
//! client can find the field without parsing the message.

use icr_events::{CommandError, FieldError};
use icr_log::LogError;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// Every error a handler can meet, before it is turned into a [`Status`].
#[derive(Debug, thiserror::Error)]
pub(crate) enum ServiceError {
    /// A request field is invalid: `InvalidArgument`, naming the field.
    #[error(transparent)]
    Field(#[from] FieldError),
    /// Current state refuses the command.
    #[error(transparent)]
    Command(#[from] CommandError),
    /// The log refused or failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// Projections have not reached the position asked for in time.
    #[error("projections are at position {at}, not yet at {wanted}; retry")]
    Lagging {
        /// Position applied.
        at: u64,
        /// Position wanted.
        wanted: u64,
    },
    /// A consistency token past the log's head: nothing reaches it unless
    /// written, so retrying unchanged is no use.
    #[error(
        "min_log_position {wanted} is past the log's head {head}: nothing will reach it \
         unless written; pass a log_position a write returned"
    )]
    PastHead {
        /// The durable head of the event log.
        head: u64,
        /// Position wanted.
        wanted: u64,
    },
    /// The service cannot decide (projections failed or are not loaded).
    #[error("{0}")]
    Unavailable(String),
}

impl From<ServiceError> for Status {
    fn from(error: ServiceError) -> Self {
        let message = error.to_string();
        let code = match &error {
            ServiceError::Field(field) => {
                return invalid_field(&field.field, &field.message, message);
            }
            ServiceError::Command(CommandError::FailedPrecondition(_)) => Code::FailedPrecondition,
            ServiceError::Command(CommandError::AlreadyExists(_)) => Code::AlreadyExists,
            ServiceError::Log(LogError::VersionConflict { .. }) => Code::Aborted,
            ServiceError::Log(LogError::RequestIdReused(_)) => {
                let reason = format!("{message}; use a new request id");
                return invalid_field("request_id", &reason, format!("request_id: {reason}"));
            }
            ServiceError::Log(LogError::Storage(_)) => {
                tracing::error!(%message, "storage failure");
                return Status::unavailable(format!(
                    "{message}; the outcome is unknown: retry with the same request_id"
                ));
            }
            ServiceError::Log(_) => {
                tracing::error!(%message, "log failure");
                Code::Internal
            }
            ServiceError::PastHead { .. } => Code::OutOfRange,
            ServiceError::Lagging { .. } | ServiceError::Unavailable(_) => Code::Unavailable,
        };
        Status::new(code, message)
    }
}

/// `InvalidArgument` with `message`, and a `BadRequest` detail naming
/// `field` (its path in the request) and `reason`.
fn invalid_field(field: &str, reason: &str, message: String) -> Status {
    let details = ErrorDetails::with_bad_request_violation(field, reason);
    Status::with_error_details(Code::InvalidArgument, message, details)
}

/// Shorthand for handler results.
pub(crate) type ServiceResult<T> = Result<T, ServiceError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_maps_to_the_code_a_caller_can_act_on() {
        let field: Status = ServiceError::from(FieldError::new("nhs_number", "bad")).into();
        assert_eq!(field.code(), Code::InvalidArgument);
        assert!(field.message().starts_with("nhs_number"));
        let conflict = LogError::VersionConflict {
            stream: "s".into(),
            expected: 1,
            actual: 2,
        };
        assert_eq!(
            Status::from(ServiceError::from(conflict)).code(),
            Code::Aborted
        );
        let reused: Status = ServiceError::from(LogError::RequestIdReused("r".into())).into();
        assert!(reused.message().starts_with("request_id"));
        let pre = CommandError::FailedPrecondition("no objection".into());
        assert_eq!(
            Status::from(ServiceError::from(pre)).code(),
            Code::FailedPrecondition
        );
        let lag = ServiceError::Lagging { at: 1, wanted: 2 };
        assert_eq!(Status::from(lag).code(), Code::Unavailable);
        let past = Status::from(ServiceError::PastHead {
            head: 7,
            wanted: 99,
        });
        assert_eq!(past.code(), Code::OutOfRange);
        assert_eq!(
            past.message(),
            "min_log_position 99 is past the log's head 7: nothing will reach it unless \
             written; pass a log_position a write returned"
        );
    }

    /// The field and reason in the detail, and none on other refusals.
    fn violation(status: &Status) -> Option<(String, String)> {
        let bad = status.get_details_bad_request()?;
        assert_eq!(bad.field_violations.len(), 1, "{bad:?}");
        let v = &bad.field_violations[0];
        Some((v.field.clone(), v.description.clone()))
    }

    #[test]
    fn a_refused_field_is_named_in_a_bad_request_detail() {
        let error = FieldError::new("requester.role_code", "must be 1 to 16 letters");
        let status: Status = ServiceError::from(error).into();
        assert_eq!(
            status.message(),
            "requester.role_code: must be 1 to 16 letters"
        );
        assert_eq!(
            violation(&status),
            Some((
                "requester.role_code".into(),
                "must be 1 to 16 letters".into()
            ))
        );
        let reused: Status = ServiceError::from(LogError::RequestIdReused("r".into())).into();
        let (field, reason) = violation(&reused).expect("a detail");
        assert_eq!(field, "request_id");
        assert!(reused.message().ends_with(&reason), "{}", reused.message());
        let pre = CommandError::FailedPrecondition("no objection".into());
        assert_eq!(violation(&Status::from(ServiceError::from(pre))), None);
    }
}

//! The one place domain errors become gRPC statuses.

use icr_events::{CommandError, FieldError};
use icr_log::LogError;
use tonic::{Code, Status};

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
    /// The service cannot decide (projections failed or are not loaded).
    #[error("{0}")]
    Unavailable(String),
}

impl From<ServiceError> for Status {
    fn from(error: ServiceError) -> Self {
        let message = error.to_string();
        let code = match &error {
            ServiceError::Field(_) => Code::InvalidArgument,
            ServiceError::Command(CommandError::FailedPrecondition(_)) => Code::FailedPrecondition,
            ServiceError::Command(CommandError::AlreadyExists(_)) => Code::AlreadyExists,
            ServiceError::Log(LogError::VersionConflict { .. }) => Code::Aborted,
            ServiceError::Log(LogError::RequestIdReused(_)) => {
                return Status::invalid_argument(format!(
                    "request_id: {message}; use a new request id"
                ));
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
            ServiceError::Lagging { .. } | ServiceError::Unavailable(_) => Code::Unavailable,
        };
        Status::new(code, message)
    }
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
    }
}

//! The one place errors become gRPC statuses: handlers, the admission
//! layers and the replays return a [`ServiceError`], and only this module
//! turns it into a [`Status`] (`tests::no_status_is_built_elsewhere` keeps
//! it so).
//!
//! `Unavailable` is kept for states a retry can outlive (storage failing,
//! projections lagging or stopped, a shutdown); a broken invariant of the
//! service's own code or data is `Internal` ([`ServiceError::Bug`]), which
//! tells a client that retrying will not help.
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
    /// The service cannot serve for now (projections stopped, or an item
    /// at a durable head could not be read): `Unavailable`. Retry later,
    /// with the same request id for a write.
    #[error("{0}")]
    Unavailable(String),
    /// The service began to shut down during a live replay: `Unavailable`.
    /// Reconnect (here or to another instance) and resume from
    /// `resume_from`; nothing before it is missed.
    #[error("the service is shutting down; resume from position {resume_from}")]
    ShuttingDown {
        /// The first position the stream did not cover.
        resume_from: u64,
    },
    /// The caller could not be identified (no client certificate):
    /// `Unauthenticated`. Call again with a certificate the service trusts.
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller is identified but may not make this call (an unknown
    /// identity, a kind that does not cover the service, an organisation
    /// its certificate does not speak for): `PermissionDenied`. Retrying
    /// unchanged will not help; the callers file decides.
    #[error("{0}")]
    PermissionDenied(String),
    /// The caller is over its request rate: `ResourceExhausted`. Back off
    /// and retry.
    #[error("{identity} is over its request rate; retry with backoff")]
    OverRate {
        /// The caller's identity.
        identity: String,
    },
    /// An invariant of the service's own code or stored data is broken (an
    /// item that must exist is missing, a record it wrote does not read
    /// back, the access check did not run): `Internal`, logged as an error.
    /// Retrying will not help: report it with what the message names.
    #[error(
        "{what}: this is a bug in the service, and retrying will not help; report it with {report}"
    )]
    Bug {
        /// What was found broken.
        what: String,
        /// What to quote in the report (a request id, a position).
        report: String,
    },
}

impl ServiceError {
    /// A [`ServiceError::Bug`]: `what` was found broken; `report` says what
    /// to quote when reporting it.
    pub(crate) fn bug(what: impl Into<String>, report: impl Into<String>) -> Self {
        Self::Bug {
            what: what.into(),
            report: report.into(),
        }
    }
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
            ServiceError::Bug { .. } => {
                tracing::error!(%message, "bug in the service");
                Code::Internal
            }
            ServiceError::PastHead { .. } => Code::OutOfRange,
            ServiceError::Lagging { .. }
            | ServiceError::Unavailable(_)
            | ServiceError::ShuttingDown { .. } => Code::Unavailable,
            ServiceError::Unauthenticated(_) => Code::Unauthenticated,
            ServiceError::PermissionDenied(_) => Code::PermissionDenied,
            ServiceError::OverRate { .. } => Code::ResourceExhausted,
        };
        Status::new(code, message)
    }
}

/// The start of the message tonic gives a request over the size limit.
const TOO_LARGE: &str = "Error, decoded message length too large";

/// The code to answer instead of one tonic chose itself, from the reply's
/// `grpc-status` and percent-encoded `grpc-message`: a request message over
/// the size limit is `ResourceExhausted`, the code gRPC specifies for it,
/// not tonic's `OutOfRange`. `None` keeps tonic's code.
pub(crate) fn recoded(status: &[u8], message: Option<&[u8]>) -> Option<Code> {
    let out_of_range = (Code::OutOfRange as i32).to_string();
    let too_large = |m: &[u8]| {
        percent_encoding::percent_decode(m)
            .decode_utf8_lossy()
            .starts_with(TOO_LARGE)
    };
    (status == out_of_range.as_bytes() && message.is_some_and(too_large))
        .then_some(Code::ResourceExhausted)
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

    #[test]
    fn a_bug_is_internal_and_says_so_never_retry() {
        let bug = ServiceError::bug("the event has no stream", "request id r-1");
        let status = Status::from(bug);
        assert_eq!(status.code(), Code::Internal);
        assert_eq!(
            status.message(),
            "the event has no stream: this is a bug in the service, and retrying will not \
             help; report it with request id r-1"
        );
        assert_eq!(violation(&status), None);
    }

    #[test]
    fn refusals_at_the_door_and_a_shutdown_keep_their_codes_and_words() {
        let cases = [
            (
                ServiceError::Unauthenticated("a client certificate is required".into()),
                Code::Unauthenticated,
                "a client certificate is required",
            ),
            (
                ServiceError::PermissionDenied("x.test may not call S".into()),
                Code::PermissionDenied,
                "x.test may not call S",
            ),
            (
                ServiceError::OverRate {
                    identity: "x.test".into(),
                },
                Code::ResourceExhausted,
                "x.test is over its request rate; retry with backoff",
            ),
            (
                ServiceError::ShuttingDown { resume_from: 12 },
                Code::Unavailable,
                "the service is shutting down; resume from position 12",
            ),
        ];
        for (error, code, message) in cases {
            let status = Status::from(error);
            assert_eq!((status.code(), status.message()), (code, message));
        }
    }

    #[test]
    fn only_a_message_over_the_size_limit_is_recoded() {
        let too_large = b"Error%2C%20decoded%20message%20length%20too%20large: found 9 bytes";
        assert_eq!(
            recoded(b"11", Some(too_large)),
            Some(Code::ResourceExhausted)
        );
        assert_eq!(recoded(b"11", Some(b"min_log_position 9 is past")), None);
        assert_eq!(recoded(b"13", Some(too_large)), None);
        assert_eq!(recoded(b"0", None), None);
    }

    /// Every `.rs` file under `dir`, in order.
    fn sources(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut dirs = vec![dir.to_path_buf()];
        let mut files = Vec::new();
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).expect("read src") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    files.push(path);
                }
            }
        }
        files.sort();
        files
    }

    /// Calls of a `Status` constructor (`Status::new(`, `Status::unavailable(`,
    /// `tonic::Status::from(` …) in `text`, by line number.
    fn status_built(text: &str) -> Vec<usize> {
        let mut found = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for (at, _) in code.match_indices("Status::") {
                let before = code[..at].chars().next_back();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue; // another type, such as `ServingStatus::`
                }
                let rest = &code[at + "Status::".len()..];
                let name = rest
                    .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                if rest[name..].trim_start().starts_with(['(', '{']) {
                    found.push(n + 1);
                }
            }
        }
        found
    }

    #[test]
    fn the_check_finds_a_status_built_and_nothing_else() {
        let text = "let a = Status::unavailable(m);\n\
                    let b = tonic::Status::new(Code::Internal, m);\n\
                    x.map_or_else(tonic::Status::code, f);\n\
                    set(ServingStatus::Serving);\n\
                    fn f() -> Result<(), Status> {}\n\
                    // Status::internal(\"in a comment\")\n";
        assert_eq!(status_built(text), [1, 2]);
    }

    /// Handlers and layers return a [`ServiceError`]; only this module
    /// turns one into a [`Status`], so a code is chosen in one place.
    #[test]
    fn no_status_is_built_elsewhere() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut offenders = Vec::new();
        let mut files = 0;
        for path in sources(&src) {
            files += 1;
            if path == src.join("status.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read file");
            for line in status_built(&text) {
                offenders.push(format!("{}:{line}", path.display()));
            }
        }
        assert!(files > 20, "only {files} source files found under {src:?}");
        assert!(
            offenders.is_empty(),
            "a Status is built outside status.rs; return a ServiceError instead: {offenders:?}"
        );
    }
}

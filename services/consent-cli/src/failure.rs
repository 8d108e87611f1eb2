//! What to tell the user when a call fails: what happened, then what to do
//! next. This is the one place gRPC codes become advice.

use std::error::Error;

use anyhow::anyhow;
use tonic::{Code, Status};

/// What a failed call was about, so its hint can name the exact command or
/// request id to use next.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct CallContext<'a> {
    /// Request id of a write: the id a retry must reuse to stay idempotent.
    pub(crate) request_id: Option<&'a str>,
    /// NHS number of the patient the call concerned.
    pub(crate) nhs_number: Option<&'a str>,
    /// Decision id of the recorded access the call concerned.
    pub(crate) decision_id: Option<&'a str>,
}

impl<'a> CallContext<'a> {
    /// A read about no patient in particular.
    pub(crate) fn read() -> Self {
        Self::default()
    }

    /// A read about one patient.
    pub(crate) fn patient_read(nhs_number: &'a str) -> Self {
        Self {
            nhs_number: Some(nhs_number),
            ..Self::default()
        }
    }

    /// A write to a patient's record.
    pub(crate) fn patient_write(request_id: &'a str, nhs_number: &'a str) -> Self {
        Self {
            request_id: Some(request_id),
            nhs_number: Some(nhs_number),
            ..Self::default()
        }
    }

    /// A write to policy, which concerns no patient.
    pub(crate) fn policy_write(request_id: &'a str) -> Self {
        Self {
            request_id: Some(request_id),
            ..Self::default()
        }
    }

    /// A read about one recorded decision.
    pub(crate) fn decision_read(decision_id: &'a str) -> Self {
        Self {
            decision_id: Some(decision_id),
            ..Self::default()
        }
    }

    /// A review of one recorded access.
    pub(crate) fn review_write(request_id: &'a str, decision_id: &'a str) -> Self {
        Self {
            request_id: Some(request_id),
            decision_id: Some(decision_id),
            ..Self::default()
        }
    }

    /// The error to report when the service answered this call with `status`.
    pub(crate) fn rejected(self, status: Status) -> anyhow::Error {
        let mut message = format!("{:?}: {}", status.code(), status.message());
        if let Some(hint) = hint(status.code(), self) {
            message.push_str("\nhint: ");
            message.push_str(&hint);
        }
        anyhow!(message)
    }
}

/// The error to report when no connection could be made at all: a TLS
/// handshake that failed on the certificate or on a plain-text service is
/// told apart from a service that is not there. `tls_ca` is whether
/// `--tls-ca` was given.
pub(crate) fn unreachable(
    endpoint: &str,
    tls_ca: bool,
    error: &tonic::transport::Error,
) -> anyhow::Error {
    let cause = chain(error);
    let told = cause.to_ascii_lowercase();
    if told.contains("certificate") && !tls_ca {
        anyhow!(
            "the service at {endpoint} answered, but its TLS certificate could not be \
             verified ({cause}): pass the CA certificate that signed it with --tls-ca <PEM>"
        )
    } else if told.contains("certificate") {
        anyhow!(
            "the service at {endpoint} answered, but its TLS certificate could not be \
             verified with --tls-ca ({cause}): check that --tls-ca is the CA that signed \
             the service's certificate and that the certificate names the host of --endpoint"
        )
    } else if told.contains("corrupt message") || told.contains("invalidcontenttype") {
        anyhow!(
            "the service at {endpoint} did not answer in TLS ({cause}): it seems to serve \
             plain text; use an http:// --endpoint without the --tls-* options"
        )
    } else {
        anyhow!(
            "cannot reach the consent service at {endpoint}: {cause}. Is it running? Start \
             it with `cargo run`"
        )
    }
}

/// Whether a failed call failed in the connection under it rather than in
/// the service: a status the service sends has no source error, one made
/// from a failed HTTP/2 exchange does.
pub(crate) fn is_transport(status: &Status) -> bool {
    status.source().is_some()
}

/// The error to report when the connection opened but could not carry a
/// call. Over `http://` that is nearly always a TLS port; over `https://`
/// with a client certificate (`client_cert`), a service that does not
/// trust it (under TLS 1.3 it says so only after the handshake).
pub(crate) fn not_spoken_to(endpoint: &str, client_cert: bool, status: &Status) -> anyhow::Error {
    let cause = status
        .source()
        .map_or_else(|| status.message().to_owned(), chain);
    if endpoint.starts_with("http://") {
        anyhow!(
            "the service at {endpoint} did not answer in plain-text gRPC ({cause}): it \
             seems to speak TLS; use an https:// --endpoint with --tls-ca <PEM> (the CA \
             that signed its certificate)"
        )
    } else if client_cert {
        anyhow!(
            "the service at {endpoint} closed the connection before answering ({cause}): it \
             may not trust the client certificate; check that --tls-cert is signed by the \
             CA the service's --tls-client-ca names, and that --tls-key is its key"
        )
    } else {
        anyhow!("the connection to {endpoint} failed before the service answered: {cause}")
    }
}

/// The error to report when a connection opened but nothing answered in
/// time.
pub(crate) fn silent(endpoint: &str) -> anyhow::Error {
    anyhow!(
        "the service at {endpoint} accepted the connection but did not answer a health \
         check within {} s: is --endpoint the consent service's gRPC port?",
        crate::CONNECT_TIMEOUT.as_secs()
    )
}

/// The error for a response that lacks the field the API promises; only a
/// mismatched or faulty server sends one.
pub(crate) fn missing(field: &str) -> anyhow::Error {
    anyhow!(
        "the service's response had no `{field}`; is the service the same API version as this CLI?"
    )
}

/// The error for an export that failed part-way. A write error stays an
/// `io::Error`, so a reader that went away (`| head`) is not reported.
pub(crate) fn export(error: icr_fhir::ExportError) -> anyhow::Error {
    match error {
        icr_fhir::ExportError::Io(error) => error.into(),
        icr_fhir::ExportError::Write(error) if error.io_error_kind().is_some() => {
            std::io::Error::from(error).into()
        }
        other => anyhow::Error::new(other).context("the export stopped part-way"),
    }
}

/// The next step for a code, naming the patient or request id when known.
fn hint(code: Code, call: CallContext<'_>) -> Option<String> {
    let status_command = match call.nhs_number {
        Some(nhs_number) => format!("`consent-cli consent status --nhs {nhs_number}`"),
        None => "`consent-cli consent status --nhs …`".to_owned(),
    };
    let hint = match code {
        Code::InvalidArgument => "fix the field named above".to_owned(),
        Code::FailedPrecondition if call.decision_id.is_some() => {
            "find the access with `consent-cli audit review-queue --all` or \
             `consent-cli audit trail --json`"
                .to_owned()
        }
        Code::FailedPrecondition if call.nhs_number.is_none() => {
            "check the current policy with `consent-cli events`".to_owned()
        }
        Code::FailedPrecondition => format!("check the current state with {status_command}"),
        Code::Aborted => format!(
            "the patient's record changed meanwhile; re-read the status with {status_command} \
             and retry with the new --expected-version"
        ),
        Code::AlreadyExists => "nothing to do: already in effect".to_owned(),
        Code::OutOfRange => "give --min-position a position the log has reached: the log \
             position a write printed, or 0 for no minimum (`consent-cli events` lists \
             positions)"
            .to_owned(),
        Code::Unavailable | Code::DeadlineExceeded => match call.request_id {
            Some(request_id) => format!("retry with the same --request-id {request_id}"),
            None => "retry; reading is safe to repeat".to_owned(),
        },
        Code::Unauthenticated | Code::PermissionDenied => {
            "the service did not accept this caller: check the client certificate (--tls-cert, \
             --tls-key) and that the service's callers file lets its identity make this call"
                .to_owned()
        }
        _ => return None,
    };
    Some(hint)
}

/// An error and its causes on one line: tonic's own text ("transport error")
/// says nothing until joined with the cause ("Connection refused"). Some
/// layers repeat their cause's text, so a cause already said is skipped.
fn chain(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conflict_names_the_patient_and_the_flag_to_change() {
        let call = CallContext::patient_write("01J0000000000000000000000", "9434765919");
        let error = call.rejected(Status::aborted("stream version is 4, expected 3"));
        assert_eq!(
            error.to_string(),
            "Aborted: stream version is 4, expected 3\n\
             hint: the patient's record changed meanwhile; re-read the status with \
             `consent-cli consent status --nhs 9434765919` and retry with the new --expected-version"
        );
    }

    #[test]
    fn an_outage_during_a_write_gives_the_request_id_to_retry_with() {
        let call = CallContext::policy_write("01JREQUEST");
        let error = call.rejected(Status::unavailable("shutting down"));
        assert!(
            error
                .to_string()
                .ends_with("retry with the same --request-id 01JREQUEST")
        );
    }

    #[test]
    fn a_cause_is_said_once() {
        let inner = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let outer = std::io::Error::other(Wrapper(inner));
        assert_eq!(chain(&outer), "refused");
    }

    /// An error that repeats its cause's text, as hyper's does.
    #[derive(Debug)]
    struct Wrapper(std::io::Error);

    impl std::fmt::Display for Wrapper {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            self.0.fmt(f)
        }
    }

    impl Error for Wrapper {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn a_position_past_the_head_says_which_positions_will_do() {
        let error = CallContext::patient_read("9434765919").rejected(Status::out_of_range(
            "min_log_position 99 is past the log's head 7: nothing will reach it unless \
             written; pass a log_position a write returned",
        ));
        assert!(
            error.to_string().ends_with(
                "hint: give --min-position a position the log has reached: the log \
                     position a write printed, or 0 for no minimum (`consent-cli events` lists \
                     positions)"
            ),
            "{error}"
        );
    }

    #[test]
    fn codes_without_advice_show_only_code_and_message() {
        let error = CallContext::read().rejected(Status::internal("log corrupt"));
        assert_eq!(error.to_string(), "Internal: log corrupt");
    }
}

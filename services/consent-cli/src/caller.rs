//! Who is calling: the system and the person behind every request.
//!
//! The service records both in the audit log, so every request carries them:
//! the system as `x-calling-system` gRPC metadata, the person in the
//! request's `user_id` field (or `Requester.user_id`).

use anyhow::{Context, Result};
use icr_proto::CALLING_SYSTEM_HEADER;
use tonic::Request;
use tonic::metadata::AsciiMetadataValue;

/// The calling system and user sent with every request.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    calling_system: AsciiMetadataValue,
    user_id: String,
}

impl Caller {
    /// Checks once, before any call, that the calling system can travel as
    /// metadata, so a bad value fails here rather than on every request.
    pub(crate) fn new(calling_system: &str, user_id: &str) -> Result<Self> {
        let calling_system = AsciiMetadataValue::try_from(calling_system).with_context(|| {
            format!("--calling-system `{calling_system}` must be printable ASCII")
        })?;
        Ok(Self {
            calling_system,
            user_id: user_id.to_owned(),
        })
    }

    /// The person making the request, for the `user_id` fields.
    pub(crate) fn user_id(&self) -> String {
        self.user_id.clone()
    }

    /// Wraps `message` in a request that names the calling system.
    pub(crate) fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        request
            .metadata_mut()
            .insert(CALLING_SYSTEM_HEADER, self.calling_system.clone());
        request
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_request_names_the_calling_system() {
        let caller = Caller::new("gp-connect", "alice").expect("valid caller");
        let request = caller.request(());
        assert_eq!(
            request
                .metadata()
                .get(CALLING_SYSTEM_HEADER)
                .map(|v| v.as_bytes()),
            Some(&b"gp-connect"[..])
        );
        assert_eq!(caller.user_id(), "alice");
    }

    #[test]
    fn a_calling_system_that_cannot_be_metadata_is_refused() {
        assert!(Caller::new("line\nbreak", "alice").is_err());
    }
}

//! The calling system a request names in its metadata, read by both the
//! write path (the actor of an event) and the read path (the asker of a
//! decision), and set by the access layer from the client certificate.

use icr_events::FieldError;
use tonic::metadata::MetadataMap;

use crate::validate;

pub(crate) use icr_proto::CALLING_SYSTEM_HEADER;

/// The calling system named in the request metadata.
pub(crate) fn calling_system(metadata: &MetadataMap) -> Result<String, FieldError> {
    match metadata.get(CALLING_SYSTEM_HEADER) {
        Some(value) => {
            let value = value
                .to_str()
                .map_err(|_| FieldError::new(CALLING_SYSTEM_HEADER, "must be ASCII"))?;
            validate::id(CALLING_SYSTEM_HEADER, value)?;
            Ok(value.to_owned())
        }
        None => Ok("unidentified".to_owned()),
    }
}

//! How the load generator names itself to the service: the calling-system
//! header on every request, reads and writes alike.

/// Metadata key naming the calling system, as the consent service reads it.
pub use icr_proto::CALLING_SYSTEM_HEADER;

/// The calling system the load generator names on every request.
pub const CALLING_SYSTEM: &str = "consent-loadgen";

/// `message` with the calling-system header the service expects.
pub(crate) fn request<M>(message: M) -> tonic::Request<M> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        CALLING_SYSTEM_HEADER,
        tonic::metadata::MetadataValue::from_static(CALLING_SYSTEM),
    );
    request
}

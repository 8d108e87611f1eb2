//! Generated protobuf messages and gRPC stubs for the `icr.consent.v1` API.
//!
//! This crate owns the `.proto` files' generated code and nothing else: the
//! same messages are the wire API and the stored form of events
//! ([`pb::RecordedEvent`]), so an event read from the log can go out on the
//! replay stream unchanged. Domain rules live in the other `icr-*` crates.
#![forbid(unsafe_code)]

mod generated {
    #![allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]
    tonic::include_proto!("icr.consent.v1");
}

/// Messages, enums and service stubs of `icr.consent.v1`.
pub mod pb {
    pub use crate::generated::*;
}

/// Serialized `FileDescriptorSet` of the API, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    tonic::include_file_descriptor_set!("icr_consent_v1_descriptor");

pub use prost_types::Timestamp;

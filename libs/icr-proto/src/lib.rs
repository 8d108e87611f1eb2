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

/// gRPC metadata key naming the calling system. The service records it in
/// the audit log (a request without it is recorded as from an `unidentified`
/// system, unless mutual TLS names the caller); every client sends it.
pub const CALLING_SYSTEM_HEADER: &str = "x-calling-system";

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use prost::Message;

    use super::FILE_DESCRIPTOR_SET;

    fn descriptor_set() -> prost_types::FileDescriptorSet {
        prost_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).expect("descriptor set")
    }

    #[test]
    fn every_file_of_the_package_is_in_the_descriptor_set() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../proto/icr/consent/v1");
        let on_disk: BTreeSet<String> = std::fs::read_dir(dir)
            .expect("proto directory")
            .map(|entry| {
                entry
                    .expect("entry")
                    .file_name()
                    .into_string()
                    .expect("utf-8")
            })
            .filter(|name| name.ends_with(".proto"))
            .map(|name| format!("icr/consent/v1/{name}"))
            .collect();
        let compiled: BTreeSet<String> = descriptor_set()
            .file
            .iter()
            .filter(|file| file.package() == "icr.consent.v1")
            .map(|file| file.name().to_owned())
            .collect();
        assert_eq!(compiled, on_disk);
    }

    /// `icr_events::codes::sections` lists the sections by reading numbers
    /// from 1 until one is unknown: a gap (a `reserved` number) would hide
    /// every section after it. Every other list of sections follows from that
    /// one.
    #[test]
    fn record_section_numbers_run_from_zero_without_a_gap() {
        let numbers: Vec<i32> = descriptor_set()
            .file
            .iter()
            .flat_map(|file| &file.enum_type)
            .filter(|e| e.name() == "RecordSection")
            .flat_map(|e| &e.value)
            .map(|value| value.number())
            .collect();
        let expected: Vec<i32> = (0..).take(numbers.len()).collect();
        assert!(numbers.len() > 1, "RecordSection has sections");
        assert_eq!(
            numbers, expected,
            "RecordSection's numbers must run 0, 1, 2, … with no gap; with one, \
             change icr_events::codes::sections to scan past it"
        );
        for number in numbers {
            assert!(
                crate::pb::RecordSection::try_from(number).is_ok(),
                "{number}"
            );
        }
    }

    #[test]
    fn every_service_is_in_the_descriptor_set() {
        let services: BTreeSet<String> = descriptor_set()
            .file
            .iter()
            .flat_map(|file| &file.service)
            .map(|service| service.name().to_owned())
            .collect();
        let expected = [
            "AccessDecisionService",
            "AuditService",
            "CareContextService",
            "ConsentService",
            "PolicyAdminService",
        ];
        assert_eq!(services, expected.map(str::to_owned).into());
    }
}

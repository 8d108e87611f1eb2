//! Exports for auditors and integrators: the decision audit as FHIR R4
//! `AuditEvent` resources, and the event log as proto3 JSON; and the import
//! of FHIR R4 `Consent` resources as objections and permissions to view.
//!
//! Each access decision the service records ([`pb::DecisionRecord`]) becomes
//! one `AuditEvent` following the IHE Basic Audit Log Patterns profile for a
//! consent authorization decision (`IHE.BasicAudit.AuthZconsent`), so a
//! FHIR audit repository, SIEM or national audit service can take the trail
//! as it takes any other. Exports come as a `collection` `Bundle` (one JSON
//! document) or as NDJSON, one resource per line, as FHIR Bulk Data does.
//! Log events ([`pb::RecordedEvent`]) are exported as NDJSON in the
//! protobuf JSON mapping, and read back the same way.
//!
//! The FHIR types here are a hand-written subset of R4: exactly the
//! `AuditEvent` and `Bundle` elements we emit. That subset is small and
//! fixed by the specification, while a complete FHIR model crate is a very
//! large dependency (every resource of a release) for the few structs used.
//!
//! This crate only converts: it reads nothing from storage, decides
//! nothing, and never fills a missing value with a guess (a record that
//! cannot be exported faithfully is an [`ExportError`], a `Consent` that
//! cannot be imported faithfully a [`consent_import::Rejection`]).
//!
//! # Layout
//!
//! - [`model`]: the serde structs of the R4 subset.
//! - [`codes`]: the code systems and identifier namespaces, each with the
//!   document that defines it.
//! - `audit_event`: one [`pb::DecisionRecord`] → one [`AuditEvent`]
//!   ([`audit_event()`]), named by an [`AuditSource`]; the mapping table is
//!   in its module docs.
//! - `export`: many records → a [`Bundle`] ([`audit_events_bundle`]) or
//!   NDJSON ([`write_ndjson`]).
//! - `events`: [`pb::RecordedEvent`] ↔ one NDJSON line of proto3 JSON
//!   ([`event_ndjson_line`], [`event_from_ndjson_line`]).
//! - [`consent_import`]: the other direction, one R4 `Consent` → the
//!   request that records it ([`consent_import::plan_consent_import`]), or
//!   a rejection naming the element it cannot represent, and a file of them
//!   checked as a whole ([`consent_import::plan_consent_file`]); the
//!   mapping table is in its module docs.
//!
//! [`pb::DecisionRecord`]: icr_proto::pb::DecisionRecord
//! [`pb::RecordedEvent`]: icr_proto::pb::RecordedEvent
#![forbid(unsafe_code)]

mod audit_event;
pub mod codes;
pub mod consent_import;
mod error;
mod events;
mod export;
pub mod model;

pub use audit_event::{AuditSource, audit_event, detail};
pub use error::ExportError;
pub use events::{event_from_ndjson_line, event_ndjson_line, write_events_ndjson};
pub use export::{audit_events_bundle, write_ndjson};
pub use model::{AuditEvent, Bundle};

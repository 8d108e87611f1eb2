//! Who is calling, and what they may call.
//!
//! Under mutual TLS every caller presents a client certificate signed by the
//! configured CA. Its identity (the first DNS name of the subject
//! alternative name, or the subject common name when there is none) is
//! looked up in the callers file, which gives each identity one kind:
//!
//! | kind | may call |
//! |---|---|
//! | `record_viewer` | `AccessDecisionService`, only for its organisations |
//! | `patient_facing` | `ConsentService` |
//! | `care_feed` | `CareContextService` |
//! | `policy_admin` | `PolicyAdminService` |
//! | `auditor` | `AuditService` |
//!
//! Without TLS (local development only) callers are not authenticated: the
//! `x-calling-system` header they send is recorded as they sent it and every
//! RPC is open. [`Access`] enforces this table in front of every service.

mod layer;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use icr_proto::pb;
use serde::Deserialize;
use tonic::transport::{Certificate, CertificateDer, Identity};

use crate::status::{ServiceError, ServiceResult};

pub(crate) use layer::Access;

/// Mutual TLS: the service's certificate, the CA its callers' certificates
/// must chain to, and what each caller may do.
#[derive(Debug, Clone)]
pub struct MutualTls {
    /// The service's certificate chain and private key.
    pub identity: Identity,
    /// The CA that signs callers' certificates.
    pub client_ca: Certificate,
    /// What each certificate identity may call.
    pub callers: Callers,
}

impl MutualTls {
    /// Reads PEM files and the callers file.
    pub fn from_files(
        cert: &Path,
        key: &Path,
        client_ca: &Path,
        callers: &Path,
    ) -> anyhow::Result<Self> {
        let read = |path: &Path, what: &str| {
            std::fs::read(path).with_context(|| format!("reading the {what} {}", path.display()))
        };
        Ok(Self {
            identity: Identity::from_pem(read(cert, "TLS certificate")?, read(key, "TLS key")?),
            client_ca: Certificate::from_pem(read(client_ca, "client CA certificate")?),
            callers: Callers::from_file(callers)?,
        })
    }
}

/// What a caller is, which decides the one gRPC service it may call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallerKind {
    /// Record viewers: ICR portals and EPR integrations asking before they
    /// release a section.
    RecordViewer,
    /// Patient-facing services recording objections, attorneys and
    /// permissions to view.
    PatientFacing,
    /// GP and hospital feeds recording registrations and care relationships.
    CareFeed,
    /// Policy administrators.
    PolicyAdmin,
    /// Auditors and privacy officers.
    Auditor,
}

impl CallerKind {
    /// The fully qualified gRPC service this kind may call.
    pub fn service(self) -> &'static str {
        match self {
            Self::RecordViewer => pb::access_decision_service_server::SERVICE_NAME,
            Self::PatientFacing => pb::consent_service_server::SERVICE_NAME,
            Self::CareFeed => pb::care_context_service_server::SERVICE_NAME,
            Self::PolicyAdmin => pb::policy_admin_service_server::SERVICE_NAME,
            Self::Auditor => pb::audit_service_server::SERVICE_NAME,
        }
    }
}

/// One entry of the callers file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    identity: String,
    kind: CallerKind,
    #[serde(default)]
    organisations: Vec<String>,
}

/// The callers file: `[[callers]]` tables of `identity`, `kind` and, for
/// record viewers, `organisations` (the ODS codes they may ask for).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    callers: Vec<Entry>,
}

/// The callers the service knows, by certificate identity.
#[derive(Debug, Clone, Default)]
pub struct Callers {
    by_identity: HashMap<String, Arc<Caller>>,
}

impl Callers {
    /// Reads and checks a callers file (TOML).
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the callers file {}", path.display()))?;
        Self::from_toml(&text).with_context(|| format!("in the callers file {}", path.display()))
    }

    /// Parses and checks callers from TOML text. Errors name the entry and key.
    pub fn from_toml(text: &str) -> anyhow::Result<Self> {
        let file: File = toml::from_str(text)?;
        let mut by_identity = HashMap::new();
        for (i, entry) in file.callers.into_iter().enumerate() {
            let at = |key: &str| format!("callers[{i}].{key}");
            // What the service records as the calling system: the same
            // rules as a self-declared one, and ASCII to travel in metadata.
            crate::validate::id(&at("identity"), &entry.identity)?;
            if !entry.identity.is_ascii() || entry.identity.contains(' ') {
                bail!(
                    "{}: must be an ASCII certificate identity without spaces",
                    at("identity")
                );
            }
            match entry.kind {
                CallerKind::RecordViewer if entry.organisations.is_empty() => bail!(
                    "{}: a record viewer must name the organisations it may ask for",
                    at("organisations")
                ),
                CallerKind::RecordViewer => {}
                _ if !entry.organisations.is_empty() => bail!(
                    "{}: only record viewers speak for organisations",
                    at("organisations")
                ),
                _ => {}
            }
            let organisations = entry
                .organisations
                .iter()
                .enumerate()
                .map(|(j, ods)| {
                    icr_events::codes::ods_code(&format!("callers[{i}].organisations[{j}]"), ods)
                })
                .collect::<Result<Vec<_>, _>>()?;
            let caller = Caller {
                identity: entry.identity.clone(),
                grant: Grant::Kind(entry.kind),
                organisations,
            };
            if by_identity
                .insert(entry.identity, Arc::new(caller))
                .is_some()
            {
                bail!("{}: named twice", at("identity"));
            }
        }
        Ok(Self { by_identity })
    }

    /// How many callers are configured.
    pub fn len(&self) -> usize {
        self.by_identity.len()
    }

    /// Whether no caller is configured.
    pub fn is_empty(&self) -> bool {
        self.by_identity.is_empty()
    }

    /// The caller a verified certificate chain identifies, if configured.
    /// Errs with the identity when it is not.
    pub(crate) fn identify(
        &self,
        chain: &[CertificateDer<'static>],
    ) -> Result<Arc<Caller>, Unidentified> {
        let leaf = chain.first().ok_or(Unidentified::NoCertificate)?;
        let identity = certificate_identity(leaf).ok_or(Unidentified::NoIdentity)?;
        self.by_identity
            .get(&identity)
            .cloned()
            .ok_or(Unidentified::Unknown(identity))
    }
}

/// Why a caller could not be identified.
#[derive(Debug)]
pub(crate) enum Unidentified {
    /// No client certificate was presented.
    NoCertificate,
    /// The certificate names no DNS name and no common name.
    NoIdentity,
    /// The identity is not in the callers file.
    Unknown(String),
}

/// The identity a client certificate carries: the first DNS name of its
/// subject alternative name, else its subject common name.
pub fn certificate_identity(der: &CertificateDer<'_>) -> Option<String> {
    use x509_parser::extensions::GeneralName;
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).ok()?;
    let from_san = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .and_then(|san| {
            san.value.general_names.iter().find_map(|name| match name {
                GeneralName::DNSName(dns) => Some((*dns).to_owned()),
                _ => None,
            })
        });
    from_san.or_else(|| {
        cert.subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_owned)
    })
}

/// Services every identified caller may call.
const OPEN_TO_CALLERS: [&str; 3] = [
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

/// What a caller may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Grant {
    /// Local development without TLS: everything, self-declared.
    Development,
    /// One kind's service.
    Kind(CallerKind),
}

/// The caller of one request, as the access layer established it. Every
/// request that reaches a handler carries one in its extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Caller {
    /// Certificate identity (or the self-declared calling system without TLS).
    pub(crate) identity: String,
    pub(crate) grant: Grant,
    /// ODS codes a record viewer may ask for.
    pub(crate) organisations: Vec<String>,
}

impl Caller {
    /// A self-declared caller without TLS: may call everything.
    pub(crate) fn development(identity: &str) -> Self {
        Self {
            identity: identity.to_owned(),
            grant: Grant::Development,
            organisations: Vec::new(),
        }
    }

    /// Whether this caller may call `service`. Health and reflection are
    /// open to every identified caller: they carry no patient data.
    pub(crate) fn may_call(&self, service: &str) -> bool {
        match self.grant {
            Grant::Development => true,
            Grant::Kind(kind) => kind.service() == service || OPEN_TO_CALLERS.contains(&service),
        }
    }

    /// Whether this caller may ask on behalf of organisation `ods`. ODS
    /// codes are case-insensitive: the request's code is checked before it
    /// is rewritten upper-case, the callers file's codes after.
    pub(crate) fn speaks_for(&self, ods: &str) -> bool {
        match self.grant {
            Grant::Development => true,
            Grant::Kind(_) => self
                .organisations
                .iter()
                .any(|o| o.eq_ignore_ascii_case(ods)),
        }
    }
}

/// The caller a request carries. None is a bug (the access layer runs
/// before every handler): refused, never answered without a caller.
pub(crate) fn caller(extensions: &tonic::Extensions) -> ServiceResult<&Caller> {
    extensions
        .get::<Arc<Caller>>()
        .map(AsRef::as_ref)
        .ok_or_else(|| {
            ServiceError::bug(
                "the caller was not identified (the access check did not run)",
                "the RPC called and the time of the call",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callers_file_errors_name_the_entry_and_key() {
        let cases = [
            (
                "[[callers]]\nidentity = \"a\"\nkind = \"record_viewer\"\n",
                "callers[0].organisations",
            ),
            (
                "[[callers]]\nidentity = \"a\"\nkind = \"auditor\"\norganisations = [\"RKB\"]\n",
                "callers[0].organisations",
            ),
            (
                "[[callers]]\nidentity = \"a\"\nkind = \"auditor\"\n[[callers]]\nidentity = \"a\"\nkind = \"care_feed\"\n",
                "callers[1].identity",
            ),
            (
                "[[callers]]\nidentity = \"a\"\nkind = \"record_viewer\"\norganisations = [\"not an ods\"]\n",
                "callers[0].organisations[0]",
            ),
            ("[[callers]]\nidentity = \"a\"\nkind = \"root\"\n", "kind"),
            (
                "[[callers]]\nidentity = \"\"\nkind = \"auditor\"\n",
                "callers[0].identity",
            ),
            (
                "[[callers]]\nidentity = \"caf\u{e9}.test\"\nkind = \"auditor\"\n",
                "callers[0].identity",
            ),
            (
                &format!(
                    "[[callers]]\nidentity = \"{}\"\nkind = \"auditor\"\n",
                    "a".repeat(129)
                ),
                "callers[0].identity",
            ),
        ];
        for (text, key) in cases {
            let error = format!("{:#}", Callers::from_toml(text).unwrap_err());
            assert!(error.contains(key), "{error} should name {key}");
        }
    }

    #[test]
    fn each_kind_calls_only_its_service() {
        let callers = Callers::from_toml(
            "[[callers]]\nidentity = \"portal\"\nkind = \"record_viewer\"\norganisations = [\"RKB\"]\n",
        )
        .expect("valid");
        let portal = &callers.by_identity["portal"];
        assert!(portal.may_call("icr.consent.v1.AccessDecisionService"));
        assert!(!portal.may_call("icr.consent.v1.AuditService"));
        assert!(portal.speaks_for("RKB"));
        assert!(!portal.speaks_for("M86003"));
    }
}

//! A throwaway certificate authority made at run time: the server's
//! certificate and one client certificate per caller. No key is ever
//! written to the repository.

use std::path::Path;

use consent_service::{Callers, MutualTls};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

/// The name the server's certificate is issued for.
pub const SERVER_NAME: &str = "localhost";

/// A CA and the certificates it issued.
pub struct Pki {
    ca: CertifiedIssuer<'static, KeyPair>,
}

/// A certificate and its private key, in PEM.
#[derive(Clone)]
pub struct Issued {
    /// Certificate (PEM).
    pub cert: String,
    /// Private key (PEM).
    pub key: String,
}

impl Issued {
    /// As a tonic identity.
    pub fn identity(&self) -> Identity {
        Identity::from_pem(&self.cert, &self.key)
    }
}

impl Pki {
    /// A fresh CA named `name`.
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("CA key");
        Self {
            ca: CertifiedIssuer::self_signed(params, key).expect("CA certificate"),
        }
    }

    /// The CA certificate (PEM).
    pub fn ca_pem(&self) -> String {
        self.ca.pem()
    }

    fn issue(
        &self,
        names: Vec<String>,
        common_name: &str,
        usage: ExtendedKeyUsagePurpose,
    ) -> Issued {
        let mut params = CertificateParams::new(names).expect("params");
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.ca).expect("sign");
        Issued {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }

    /// The server's certificate, for `localhost` and `127.0.0.1`.
    pub fn server(&self) -> Issued {
        self.issue(
            vec![SERVER_NAME.into(), "127.0.0.1".into()],
            SERVER_NAME,
            ExtendedKeyUsagePurpose::ServerAuth,
        )
    }

    /// A client certificate whose identity is the DNS name `identity`.
    pub fn client(&self, identity: &str) -> Issued {
        self.issue(
            vec![identity.into()],
            identity,
            ExtendedKeyUsagePurpose::ClientAuth,
        )
    }

    /// Mutual TLS settings for the server, with the callers in `callers_toml`.
    pub fn server_tls(&self, callers_toml: &str) -> MutualTls {
        let server = self.server();
        MutualTls {
            identity: server.identity(),
            client_ca: Certificate::from_pem(self.ca_pem()),
            callers: Callers::from_toml(callers_toml).expect("callers"),
        }
    }

    /// Writes the server's files (cert, key, CA, callers) into `dir`, for
    /// starting the binary; returns their paths in that order.
    pub fn write_server_files(&self, dir: &Path, callers_toml: &str) -> [std::path::PathBuf; 4] {
        let server = self.server();
        let files = [
            ("server.pem", server.cert),
            ("server.key", server.key),
            ("ca.pem", self.ca_pem()),
            ("callers.toml", callers_toml.to_owned()),
        ];
        files.map(|(name, text)| {
            let path = dir.join(name);
            std::fs::write(&path, text).expect("write");
            path
        })
    }
}

/// A channel to `endpoint` (`https://127.0.0.1:port`) trusting `ca_pem`,
/// presenting `client` when given.
pub fn channel(endpoint: &str, ca_pem: &str, client: Option<&Issued>) -> Channel {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca_pem))
        .domain_name(SERVER_NAME);
    if let Some(client) = client {
        tls = tls.identity(client.identity());
    }
    Channel::from_shared(endpoint.to_owned())
        .expect("uri")
        .tls_config(tls)
        .expect("tls config")
        .connect_lazy()
}

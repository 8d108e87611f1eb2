//! The CLI against a service running mutual TLS: it presents its client
//! certificate, and a certificate whose kind may not make the call gets an
//! error that says what to check.

mod support;

use consent_service::{Options, PolicyFiles};
use icr_integration_tests::pki::Pki;
use support::*;

const CALLERS: &str = r#"
[[callers]]
identity = "cli-viewer.test"
kind = "record_viewer"
organisations = ["RKB"]

[[callers]]
identity = "cli-auditor.test"
kind = "auditor"
"#;

#[tokio::test]
async fn the_cli_calls_a_mutual_tls_service_with_its_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = Pki::new("throwaway test CA");
    let mut options = Options::new(dir.path().join("data"), PolicyFiles::built_in());
    options.tls = Some(pki.server_tls(CALLERS));
    let service = Service::start_options(options).await;
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, pki.ca_pem()).expect("write");
    let files = |name: &str| {
        let issued = pki.client(name);
        let (cert, key) = (
            dir.path().join(format!("{name}.pem")),
            dir.path().join(format!("{name}.key")),
        );
        std::fs::write(&cert, issued.cert).expect("write");
        std::fs::write(&key, issued.key).expect("write");
        (cert.display().to_string(), key.display().to_string())
    };
    let ca = ca.display().to_string();
    let ask = AUTHORIZE_MEDICATIONS;

    let (cert, key) = files("cli-viewer.test");
    let tls = ["--tls-ca", &ca, "--tls-cert", &cert, "--tls-key", &key];
    let answer = succeeded(&cli(&service.endpoint, &with(&tls, ask)).await);
    assert!(
        answer.contains("DENY"),
        "an unknown patient is denied: {answer}"
    );

    let (cert, key) = files("cli-auditor.test");
    let tls = ["--tls-ca", &ca, "--tls-cert", &cert, "--tls-key", &key];
    let error = failed(&cli(&service.endpoint, &with(&tls, ask)).await);
    assert!(error.contains("may not call"), "{error}");
    assert!(error.contains("--tls-cert"), "says what to check: {error}");

    let error = failed(&cli(&service.endpoint, &with(&["--tls-ca", &ca], ask)).await);
    assert!(error.contains("client certificate"), "{error}");
    service.stop().await;
}

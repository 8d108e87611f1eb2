//! The binary refuses to serve plain text beyond loopback: callers would be
//! unauthenticated and traffic readable on the network.

use std::process::Command;

fn run(args: &[&str]) -> (bool, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = Command::new(env!("CARGO_BIN_EXE_consent-service"))
        .args(args)
        .arg("--data-dir")
        .arg(dir.path())
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run the service");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn plain_text_on_a_network_address_is_refused() {
    let (ok, stderr) = run(&["--listen", "0.0.0.0:0"]);
    assert!(!ok, "must not start");
    assert!(
        stderr.contains("refusing to serve plain-text gRPC"),
        "{stderr}"
    );
    assert!(
        stderr.contains("--insecure-plaintext-on-network"),
        "{stderr}"
    );
}

#[test]
fn tls_needs_its_key_client_ca_and_callers() {
    let (ok, stderr) = run(&["--tls-cert", "server.pem"]);
    assert!(!ok, "must not start");
    for flag in ["--tls-key", "--tls-client-ca", "--callers"] {
        assert!(stderr.contains(flag), "{flag} named: {stderr}");
    }
}

#[test]
fn plain_text_on_the_network_cannot_be_combined_with_tls() {
    let (ok, stderr) = run(&[
        "--insecure-plaintext-on-network",
        "--tls-cert",
        "a",
        "--tls-key",
        "b",
        "--tls-client-ca",
        "c",
        "--callers",
        "d",
    ]);
    assert!(!ok);
    assert!(stderr.contains("cannot be used with"), "{stderr}");
}

//! The README walk-through, run with the real CLI binary against the real
//! service on `127.0.0.1:0`.

use std::process::Output;

use consent_service::{Options, PolicyFiles};

/// Runs the CLI binary with `args` against `endpoint`.
async fn cli(endpoint: &str, args: &[&str]) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_consent-cli"));
    command.arg("--endpoint").arg(endpoint).args(args);
    command.output().await.expect("run consent-cli")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

const AUTHORIZE: [&str; 11] = [
    "authorize",
    "--nhs",
    "9434765919",
    "--role",
    "R8000",
    "--org",
    "RKB",
    "--section",
    "medications",
    "--purpose",
    "direct_care",
];

#[tokio::test]
async fn readme_walkthrough() {
    let dir = tempfile::tempdir().expect("tempdir");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    let options = Options::new(dir.path(), PolicyFiles::built_in());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(consent_service::run(listener, options, async {
        let _ = stopped.await;
    }));

    let register = [
        "care",
        "register-patient",
        "--nhs",
        "9434765919",
        "--practice",
        "M86003",
        "--dob",
        "1970-01-01",
    ];
    assert!(cli(&endpoint, &register).await.status.success());
    let start = [
        "care",
        "start",
        "--nhs",
        "9434765919",
        "--relationship",
        "ae-2026-001",
        "--org",
        "RKB",
        "--kind",
        "inpatient_episode",
    ];
    assert!(cli(&endpoint, &start).await.status.success());
    let allowed = stdout(&cli(&endpoint, &AUTHORIZE).await);
    assert!(allowed.contains("ALLOW"), "{allowed}");

    assert!(
        cli(&endpoint, &["consent", "object", "--nhs", "9434765919"])
            .await
            .status
            .success()
    );
    let denied = stdout(&cli(&endpoint, &AUTHORIZE).await);
    assert!(
        denied.contains("DENY") && denied.contains("objection_active"),
        "{denied}"
    );

    assert!(
        cli(&endpoint, &["consent", "withdraw", "--nhs", "9434765919"])
            .await
            .status
            .success()
    );
    assert!(stdout(&cli(&endpoint, &AUTHORIZE).await).contains("ALLOW"));

    let events = stdout(&cli(&endpoint, &["events"]).await);
    for expected in [
        "PatientRegistered",
        "CareRelationshipStarted",
        "ObjectionRecorded",
        "ObjectionWithdrawn",
    ] {
        assert!(
            events.contains(expected),
            "{expected} missing from:\n{events}"
        );
    }

    let refused = cli(&endpoint, &["consent", "withdraw", "--nhs", "9434765919"]).await;
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("FailedPrecondition"));

    let _ = stop.send(());
    server.await.expect("join").expect("clean stop");
}

//! Where a newcomer following the README takes a wrong turn, the CLI says
//! which way to go: a plain-text endpoint against a TLS port, a TLS
//! endpoint without the CA, a client certificate the service does not
//! trust, TLS against a plain-text port, a consistency token past the
//! log's head, a
//! stream named without its kind, a practice outside the agreement, NHS
//! numbers written as NHS letters print them and lower-case ODS codes, and
//! the decision id the walk-through's review needs.

mod support;

use consent_service::{Options, PolicyFiles};
use icr_integration_tests::pki::Pki;
use support::*;

const CALLERS: &str = r#"
[[callers]]
identity = "cli-auditor.test"
kind = "auditor"
"#;

/// A service that is not signing, on the built-in pack.
async fn plain_service(dir: &std::path::Path) -> Service {
    Service::start_options(Options::new(dir, PolicyFiles::built_in())).await
}

/// Registers the walk-through's patient at `practice` and returns what the
/// CLI printed on stderr.
async fn register(endpoint: &str, nhs: &str, practice: &str) -> String {
    let args = [
        "care",
        "register-patient",
        "--nhs",
        nhs,
        "--practice",
        practice,
        "--dob",
        "1970-01-01",
    ];
    let output = cli(endpoint, &args).await;
    succeeded(&output);
    stderr(&output)
}

#[tokio::test]
async fn tls_mistakes_are_named_as_tls_mistakes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = Pki::new("throwaway test CA");
    let mut options = Options::new(dir.path().join("data"), PolicyFiles::built_in());
    options.tls = Some(pki.server_tls(CALLERS));
    let service = Service::start_options(options).await;
    let status = ["consent", "status", "--nhs", NHS];

    let plain = service.endpoint.replace("https://", "http://");
    let error = failed(&cli(&plain, &status).await);
    assert!(
        error.starts_with(&format!(
            "error: the service at {plain} did not answer in plain-text gRPC ("
        )),
        "{error}"
    );
    assert!(
        error.contains(
            "it seems to speak TLS; use an https:// --endpoint with --tls-ca <PEM> (the CA \
             that signed its certificate)"
        ),
        "{error}"
    );

    let error = failed(&cli(&service.endpoint, &status).await);
    assert!(
        error.starts_with(&format!(
            "error: the service at {} answered, but its TLS certificate could not be verified (",
            service.endpoint
        )),
        "{error}"
    );
    assert!(
        error.contains("pass the CA certificate that signed it with --tls-ca <PEM>"),
        "{error}"
    );
    assert!(!error.contains("Is it running"), "{error}");

    // A client certificate from a CA the service does not trust: under
    // TLS 1.3 the service closes the connection after the handshake.
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, pki.ca_pem()).expect("write");
    let stranger = Pki::new("another CA").client("cli-auditor.test");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, stranger.cert).expect("write");
    std::fs::write(&key, stranger.key).expect("write");
    let paths = [&ca, &cert, &key].map(|p| p.display().to_string());
    let tls = [
        "--tls-ca",
        &paths[0],
        "--tls-cert",
        &paths[1],
        "--tls-key",
        &paths[2],
    ];
    let error = failed(&cli(&service.endpoint, &with(&tls, &status)).await);
    assert!(
        error.starts_with(&format!(
            "error: the service at {} closed the connection before answering (",
            service.endpoint
        )),
        "{error}"
    );
    assert!(
        error.contains(
            "it may not trust the client certificate; check that --tls-cert is signed by the \
             CA the service's --tls-client-ca names, and that --tls-key is its key"
        ),
        "{error}"
    );

    // The other way round: TLS against a plain-text service.
    let plain_dir = tempfile::tempdir().expect("tempdir");
    let plain_service = plain_service(plain_dir.path()).await;
    let https = plain_service.endpoint.replace("http://", "https://");
    let error = failed(&cli(&https, &status).await);
    assert!(
        error.contains("did not answer in TLS") && error.contains("use an http:// --endpoint"),
        "{error}"
    );
    plain_service.stop().await;
    service.stop().await;
}

#[tokio::test]
async fn a_position_past_the_head_is_not_worth_a_retry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let service = plain_service(dir.path()).await;
    register(&service.endpoint, NHS, "M86003").await;
    let head = json(&service.endpoint, &["events"]).await.len();
    let args = [
        "consent",
        "status",
        "--nhs",
        NHS,
        "--min-position",
        "999999",
    ];
    let error = failed(&cli(&service.endpoint, &args).await);
    assert_eq!(
        error,
        format!(
            "error: OutOfRange: min_log_position 999999 is past the log's head {head}: nothing \
             will reach it unless written; pass a log_position a write returned\n\
             hint: give --min-position a position the log has reached: the log position a \
             write printed, or 0 for no minimum (`consent-cli events` lists positions)\n"
        )
    );
    service.stop().await;
}

#[tokio::test]
async fn a_bare_nhs_number_names_the_patients_stream() {
    let dir = tempfile::tempdir().expect("tempdir");
    let service = plain_service(dir.path()).await;
    register(&service.endpoint, NHS, "M86003").await;
    let events = json(&service.endpoint, &["events", "--stream", NHS]).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["stream"], format!("patient/{NHS}"));
    assert_eq!(events[0]["event_type"], "PatientRegistered");

    let refused = cli(&service.endpoint, &["events", "--stream", "RKB"]).await;
    assert_eq!(refused.status.code(), Some(2), "a usage error");
    let error = stderr(&refused);
    assert!(
        error.contains(
            "`RKB` names no stream: a stream is <kind>/<id>, e.g. patient/9434765919, \
             organisation/RKB, role/R8000, region/QWU or review/<decision id> (for one \
             patient, --nhs <NHS_NUMBER> does the same)"
        ),
        "{error}"
    );
    service.stop().await;
}

#[tokio::test]
async fn a_practice_outside_the_agreement_is_recorded_with_a_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let service = plain_service(dir.path()).await;
    let inside = register(&service.endpoint, NHS, "M86003").await;
    assert_eq!(inside, "", "a practice in the agreement: nothing to say");

    let outside = register(&service.endpoint, "9434765870", "Y99999").await;
    assert_eq!(
        outside,
        "warning: recorded, but practice Y99999 is not in the sharing agreement: patient \
         9434765870 is outside this ICR's population, and every request for their record is \
         denied (outside_population) until the practice joins (`consent-cli policy join-org`) \
         or its region gets a policy (`consent-cli policy set-region`)\n"
    );
    let status = json(
        &service.endpoint,
        &["consent", "status", "--nhs", "9434765870"],
    )
    .await;
    assert_eq!(status[0]["registered"], true, "recorded all the same");
    service.stop().await;
}

#[tokio::test]
async fn nhs_numbers_as_letters_print_them_and_lower_case_codes_are_read_as_meant() {
    let dir = tempfile::tempdir().expect("tempdir");
    let service = plain_service(dir.path()).await;
    assert_eq!(
        register(&service.endpoint, "943 476 5919", "m86003").await,
        ""
    );
    let status = json(
        &service.endpoint,
        &["consent", "status", "--nhs", "943-476-5919"],
    )
    .await;
    assert_eq!(status[0]["nhs_number"], NHS);
    assert_eq!(status[0]["gp_practice_ods"], "M86003");
    assert_eq!(status[0]["registered"], true);

    let error = failed(
        &cli(
            &service.endpoint,
            &["consent", "status", "--nhs", "9434 765 919"],
        )
        .await,
    );
    assert!(
        error.starts_with(
            "error: InvalidArgument: nhs_number: not a valid NHS number: must be 10 digits, \
             written together (9434765919) or in groups of 3, 3 and 4 split by single spaces \
             or hyphens (943 476 5919)"
        ),
        "{error}"
    );
    service.stop().await;
}

#[tokio::test]
async fn the_trail_shows_the_decision_id_review_and_recheck_take() {
    let dir = tempfile::tempdir().expect("tempdir");
    let service = plain_service(dir.path()).await;
    register(&service.endpoint, NHS, "M86003").await;
    succeeded(&cli(&service.endpoint, AUTHORIZE_MEDICATIONS).await);
    let recorded = json(&service.endpoint, &["audit", "trail"]).await;
    let decision_id = recorded[0]["decision_id"].as_str().expect("decision_id");
    let table = succeeded(&cli(&service.endpoint, &["audit", "trail"]).await);
    let mut lines = table.lines();
    let header = lines.next().expect("a header");
    assert!(
        header.starts_with("AUDIT POSITION  DECISION ID"),
        "{header}"
    );
    let row = lines.next().expect("a row");
    assert!(row.contains(decision_id), "{row}");
    let rechecked = cli(&service.endpoint, &["audit", "recheck", decision_id]).await;
    succeeded(&rechecked);
    service.stop().await;
}

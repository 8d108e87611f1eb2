//! `consent-cli policy apply <PACK_DIR>` with the real binary against the
//! real service, started with no policy at all.

#[path = "policy_apply/setup.rs"]
mod setup;
mod support;

use std::path::PathBuf;

use icr_integration_tests::pki::Pki;
use serde_json::Value;
use setup::*;
use support::{NHS, Service, cli, failed, json, stdout, succeeded, with, words};

#[tokio::test]
async fn a_pack_is_applied_once_and_then_has_nothing_to_change() {
    let dir = tempfile::tempdir().expect("tempdir");
    let service = service_without_policy(dir.path()).await;
    let endpoint = service.endpoint.as_str();
    assert_eq!(log(endpoint).await, Vec::<Value>::new());
    let pack = pack_dir();

    // A dry run plans every entry and appends nothing.
    let plan = json(endpoint, &["policy", "apply", &pack, "--dry-run"]).await;
    assert_eq!(plan.len(), pack_entries(), "{plan:?}");
    let new = ["new", "new neighbour (placeholder)"];
    assert!(
        plan.iter()
            .all(|change| new.iter().any(|why| change["why"] == *why)),
        "{plan:?}"
    );
    assert!(plan.iter().all(|change| change["log_position"].is_null()));
    assert_eq!(log(endpoint).await, Vec::<Value>::new());

    // Applied: one policy event per entry, under the planned request ids.
    let applied = json(endpoint, &["policy", "apply", &pack]).await;
    assert_eq!(applied.len(), plan.len());
    let events = log(endpoint).await;
    assert_eq!(events.len(), plan.len());
    for (change, event) in plan.iter().zip(&events) {
        assert_eq!(change["request_id"], event["request_id"], "{event}");
        assert_eq!(change["stream"], event["stream"], "{event}");
    }

    // The pack's policy decides: R8000 at RKB sees a patient in its care.
    succeeded(
        &cli(
            endpoint,
            &words(&format!(
                "care register-patient --nhs {NHS} --practice M86003 --dob 1970-01-01"
            )),
        )
        .await,
    );
    succeeded(&cli(endpoint, &words(&format!("care start --nhs {NHS} --relationship ae-2026-001 --org RKB --kind inpatient_episode"))).await);
    let decision = authorize(endpoint).await;
    assert!(decision.contains("ALLOW"), "{decision}");
    let head = log(endpoint).await.len();

    // Again: nothing to change, nothing appended.
    let again = cli(endpoint, &["policy", "apply", &pack]).await;
    assert_eq!(
        succeeded(&again),
        format!("nothing to change: the service's policy already matches pack {PACK}\n")
    );
    assert_eq!(log(endpoint).await.len(), head);

    // An organisation an administrator made leave since is not brought
    // back unasked: the dry run names the take-over, and --take-over
    // brings back that organisation only.
    succeeded(&cli(endpoint, &words("policy leave-org --ods RKB")).await);
    assert!(authorize(endpoint).await.contains("DENY"));
    let head = log(endpoint).await.len();
    let refused = failed(&cli(endpoint, &["policy", "apply", &pack]).await);
    assert!(
        refused.contains("organisation/RKB (join-org) was last written by"),
        "{refused}"
    );
    assert!(refused.contains("directly, not a pack"), "{refused}");
    assert_eq!(log(endpoint).await.len(), head, "nothing sent");
    let plan = json(endpoint, &["policy", "apply", &pack, "--dry-run"]).await;
    assert_eq!(plan[0]["action"], "take-over", "{plan:?}");
    assert_eq!(plan[0]["stream"], "organisation/RKB");
    assert_eq!(plan[0]["detail"], "join-org needs --take-over");
    let rejoined = json(endpoint, &["policy", "apply", &pack, "--take-over"]).await;
    assert_eq!(rejoined.len(), 1, "{rejoined:?}");
    assert_eq!(rejoined[0]["action"], "join-org");
    assert_eq!(rejoined[0]["why"], "rejoins");
    assert_eq!(rejoined[0]["replayed"], false);
    assert!(authorize(endpoint).await.contains("ALLOW"));

    service.stop().await;
}

#[tokio::test]
async fn a_neighbours_own_settings_and_organisations_survive_applying_a_pack() {
    let dir = tempfile::tempdir().expect("tempdir");
    let service = service_without_policy(dir.path()).await;
    let endpoint = service.endpoint.as_str();
    let pack = pack_dir();
    json(endpoint, &["policy", "apply", &pack]).await;

    // Birmingham's own policy (the pack only declares QHL as a placeholder)
    // and a Birmingham trust.
    let set_region = "policy set-region --code QHL --name Birmingham --model opt_out \
                      --minimum-age 16 --viewing-region QWU --break-glass --review-within-days 7";
    succeeded(&cli(endpoint, &words(set_region)).await);
    succeeded(
        &cli(
            endpoint,
            &words("policy join-org --ods RRK --name UHB --region QHL"),
        )
        .await,
    );
    let before = log(endpoint).await;

    // Planned again: nothing for QHL or RRK; QHL shown as skipped.
    let plan = json(endpoint, &["policy", "apply", &pack, "--dry-run"]).await;
    assert_eq!(plan.len(), 2, "{plan:?}");
    assert_eq!(plan[0]["action"], "skip");
    assert_eq!(plan[0]["stream"], "region/QHL");
    assert_eq!(
        plan[0]["detail"],
        "kept as it is: Birmingham: opt_out, minimum age 16, break glass"
    );
    assert_eq!(plan[1]["changes"], 0);
    assert_eq!(plan[1]["skipped"], 1);

    let applied = succeeded(&cli(endpoint, &["policy", "apply", &pack]).await);
    assert!(
        applied.ends_with(&format!(
            "nothing to change: the service's policy already matches pack {PACK}, \
             1 neighbouring region left as it is\n"
        )),
        "{applied}"
    );
    let after = log(endpoint).await;
    assert_eq!(after, before, "nothing appended");
    assert_eq!(
        latest(&after, "organisation/RRK")["event_type"],
        "OrganisationJoined"
    );
    let qhl = latest(&after, "region/QHL")["request_id"].clone();
    assert!(
        qhl.as_str()
            .is_some_and(|id| !id.starts_with("policy-apply/")),
        "still the administrator's: {qhl}"
    );

    service.stop().await;
}

#[tokio::test]
async fn a_second_pack_for_the_same_region_takes_it_over_only_when_asked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let service = service_without_policy(dir.path()).await;
    let endpoint = service.endpoint.as_str();
    let path = |pack: &str| policies_dir().join(pack).display().to_string();
    let (bsw, banes) = (path("bsw"), path("bath-north-east-somerset"));
    json(endpoint, &["policy", "apply", &bsw]).await;
    // An administrator adjusts QOX once, directly: that does not make it
    // anyone's to take over unasked.
    let adjust = "policy set-region --code QOX --name BSW --model opt_out --minimum-age 16";
    succeeded(&cli(endpoint, &words(adjust)).await);
    let before = log(endpoint).await;

    // bath-north-east-somerset also owns QOX: refused, nothing sent, so
    // bsw's organisations are still joined and QOX is as it was set.
    let refused = failed(&cli(endpoint, &["policy", "apply", &banes]).await);
    assert!(
        refused.contains("region/QOX (set-region) was last written by"),
        "{refused}"
    );
    assert!(refused.contains("directly, not a pack"), "{refused}");
    assert!(refused.contains("after pack bsw"), "{refused}");
    for trust in ["RN3", "RNU", "RNZ"] {
        let taken = format!("organisation/{trust} (leave-org) was last written by pack bsw");
        assert!(refused.contains(&taken), "{refused}");
    }
    assert!(refused.contains("--take-over"), "{refused}");
    assert_eq!(log(endpoint).await, before);
    for trust in ["RN3", "RNU", "RNZ"] {
        let joined = latest(&before, &format!("organisation/{trust}"));
        assert_eq!(joined["event_type"], "OrganisationJoined", "{joined}");
    }

    // The plan names each take-over, then says what taking over would do.
    let plan = json(endpoint, &["policy", "apply", &banes, "--dry-run"]).await;
    let taken: Vec<(&str, &str)> = plan
        .iter()
        .filter(|c| c["action"] == "take-over")
        .filter_map(|c| Some((c["stream"].as_str()?, c["detail"].as_str()?)))
        .collect();
    assert_eq!(
        taken,
        [
            ("region/QOX", "set-region needs --take-over"),
            ("organisation/RN3", "leave-org needs --take-over"),
            ("organisation/RNU", "leave-org needs --take-over"),
            ("organisation/RNZ", "leave-org needs --take-over"),
        ]
    );
    assert_eq!(plan[1]["why"], "last written by pack bsw", "{plan:?}");
    let leaving: Vec<&Value> = plan
        .iter()
        .filter(|c| c["action"] == "leave-org")
        .map(|c| &c["stream"])
        .collect();
    assert_eq!(
        leaving,
        ["organisation/RN3", "organisation/RNU", "organisation/RNZ"]
    );

    // Asked for, it is done; the region is then bath-north-east-somerset's.
    json(endpoint, &["policy", "apply", &banes, "--take-over"]).await;
    let after = log(endpoint).await;
    let qox = latest(&after, "region/QOX")["request_id"].clone();
    assert!(
        qox.as_str()
            .is_some_and(|id| id.starts_with("policy-apply/bath-north-east-somerset/")),
        "{qox}"
    );
    assert_eq!(
        latest(&after, "organisation/RN3")["event_type"],
        "OrganisationLeft"
    );
    let again = failed(&cli(endpoint, &["policy", "apply", &bsw]).await);
    assert!(
        again.contains("region/QOX (set-region) was last written by pack bath-north-east-somerset"),
        "{again}"
    );

    service.stop().await;
}

#[tokio::test]
async fn two_applies_at_once_record_the_pack_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let service = service_without_policy(dir.path()).await;
    let endpoint = service.endpoint.as_str();
    let pack = pack_dir();

    // Both may plan every change; the planned request ids are the same, so
    // whichever submits a change second is answered with the first's receipt.
    let apply = ["policy", "apply", pack.as_str()];
    let (first, second) = tokio::join!(cli(endpoint, &apply), cli(endpoint, &apply));
    succeeded(&first);
    succeeded(&second);
    assert_eq!(log(endpoint).await.len(), pack_entries());

    service.stop().await;
}

#[tokio::test]
async fn a_broken_or_region_spanning_pack_is_refused_naming_why_and_nothing_is_appended() {
    let dir = tempfile::tempdir().expect("tempdir");
    let service = service_without_policy(&dir.path().join("data")).await;
    let endpoint = service.endpoint.as_str();

    let policies = dir.path().join("policies");
    let broken = policies.join("broken");
    std::fs::create_dir_all(&broken).expect("mkdir");
    for file in ["model.conf", "rules.csv"] {
        std::fs::copy(policies_dir().join(file), policies.join(file)).expect("copy");
    }
    let pack = std::fs::read_to_string(policies_dir().join(PACK).join("pack.toml")).expect("read");
    let cases = [
        (
            pack.replacen("minimum_age", "minimum_years", 1),
            "minimum_years",
        ),
        (
            pack.replacen("\"medications\"", "\"medicine\"", 1),
            "unknown section 'medicine'",
        ),
        (
            pack.replacen("region = \"QWU\"", "region = \"QHL\"", 1),
            "pack broken lists organisations in more than one region (RYG in QHL; RKB, ",
        ),
    ];
    for (text, named) in cases {
        std::fs::write(broken.join("pack.toml"), text).expect("write");
        let output = cli(
            endpoint,
            &["policy", "apply", broken.to_str().expect("UTF-8 path")],
        )
        .await;
        let error = failed(&output);
        assert!(error.contains("broken/pack.toml"), "{error}");
        assert!(error.contains(named), "{error}");
        assert_eq!(stdout(&output), "");
        assert_eq!(log(endpoint).await, Vec::<Value>::new());
    }

    service.stop().await;
}

#[tokio::test]
async fn under_mutual_tls_an_auditor_reads_and_the_policy_administrator_writes() {
    const CALLERS: &str = r#"
[[callers]]
identity = "cli-policy.test"
kind = "policy_admin"

[[callers]]
identity = "cli-auditor.test"
kind = "auditor"
"#;
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = Pki::new("throwaway test CA");
    let mut options = options_without_policy(&dir.path().join("data"));
    options.tls = Some(pki.server_tls(CALLERS));
    let service = Service::start_options(options).await;
    let endpoint = service.endpoint.as_str();
    let write = |path: PathBuf, pem: &str| {
        std::fs::write(&path, pem).expect("write");
        path.display().to_string()
    };
    let ca = write(dir.path().join("ca.pem"), &pki.ca_pem());
    let identity = |name: &str| {
        let issued = pki.client(name);
        (
            write(dir.path().join(format!("{name}.pem")), &issued.cert),
            write(dir.path().join(format!("{name}.key")), &issued.key),
        )
    };
    let (policy_cert, policy_key) = identity("cli-policy.test");
    let (audit_cert, audit_key) = identity("cli-auditor.test");
    let as_policy = [
        "--tls-ca",
        &ca,
        "--tls-cert",
        &policy_cert,
        "--tls-key",
        &policy_key,
    ];
    let as_auditor = [
        "--tls-ca",
        &ca,
        "--tls-cert",
        &audit_cert,
        "--tls-key",
        &audit_key,
    ];
    let pack = pack_dir();
    let log = || async { json(endpoint, &with(&as_auditor, &["events"])).await };

    // The policy administrator alone may not read the log: told what to give.
    let alone = cli(endpoint, &with(&as_policy, &["policy", "apply", &pack])).await;
    let error = failed(&alone);
    assert!(error.contains("--read-tls-cert"), "{error}");
    assert_eq!(log().await.len(), 0);

    let read_as_auditor = ["--read-tls-cert", &audit_cert, "--read-tls-key", &audit_key];
    let apply = with(
        &with(&as_policy, &["policy", "apply", &pack]),
        &read_as_auditor,
    );
    let applied = json(endpoint, &apply).await;
    assert_eq!(applied.len(), pack_entries());
    let events = log().await;
    assert_eq!(events.len(), pack_entries());
    assert!(
        events
            .iter()
            .all(|event| event["calling_system"] == "cli-policy.test"),
        "written as the policy administrator: {events:?}"
    );
    let again = succeeded(&cli(endpoint, &apply).await);
    assert!(again.starts_with("nothing to change"), "{again}");

    service.stop().await;
}

//! A region adds a council to its copy of the Coventry & Warwickshire pack,
//! as `policies/coventry-warwickshire/pack.toml` tells it to: one
//! `[[organisations]]` entry, then `consent-cli policy test` and
//! `consent-cli policy apply` with the real binary against a real service
//! that started with the pack as published.

#[path = "support/service_binary.rs"]
mod service_binary;
#[path = "policy_apply/setup.rs"]
#[allow(
    dead_code,
    reason = "this test starts its service with the published pack"
)]
mod setup;
mod support;

use std::path::Path;

use consent_service::{Options, PolicyFiles};
use serde_json::Value;
use setup::*;
use support::{NHS, Service, cli, cli_offline, json, succeeded, words};

/// The entry a region appends for Coventry City Council. LAQWU9 stands for
/// the council's own ODS code, which could not be confirmed. It is not
/// LAQWU1 or LAQWU2: the published scenarios join those placeholders
/// themselves, and a pack already holding one fails them with
/// "organisation is already in the agreement", as it should.
const COUNCIL: &str = r#"
[[organisations]]
ods = "LAQWU9"
name = "Coventry City Council"
region = "QWU"
"#;

/// A scenario the region adds beside the council: with the council in the
/// pack itself, no `join_org` step is needed.
const SCENARIO: &str = r#"
[[scenario]]
name = "the council joined by this pack sees a social care plan"
given = [
  { register = { nhs = "9434765919", practice = "M86003", dob = "today-40y" } },
  { care_start = { nhs = "9434765919", org = "LAQWU9", kind = "social_care_case", relationship = "sc1" } },
]
when = { nhs = "9434765919", role = "R8014", org = "LAQWU9", section = "social_care_plans" }
then = { outcome = "allow", reason = "role_permits_section" }
"#;

/// The region's copy of the published pack, under `dir`, with the council
/// and its scenario added; returns the pack directory.
fn regions_copy(dir: &Path) -> String {
    let published = policies_dir();
    for file in ["model.conf", "rules.csv"] {
        std::fs::copy(published.join(file), dir.join(file)).expect("copy");
    }
    let pack = dir.join(PACK);
    std::fs::create_dir_all(pack.join("scenarios")).expect("mkdir");
    for entry in std::fs::read_dir(published.join(PACK).join("scenarios")).expect("scenarios") {
        let path = entry.expect("entry").path();
        let name = path.file_name().expect("file name");
        std::fs::copy(&path, pack.join("scenarios").join(name)).expect("copy scenario");
    }
    let text = std::fs::read_to_string(published.join(PACK).join("pack.toml")).expect("read");
    std::fs::write(pack.join("pack.toml"), text + COUNCIL).expect("write pack");
    std::fs::write(pack.join("scenarios/council.toml"), SCENARIO).expect("write scenario");
    pack.display().to_string()
}

/// A social worker at the council asks for the patient's social care plan.
async fn social_worker_asks(endpoint: &str) -> Value {
    let question = format!(
        "authorize --nhs {NHS} --role R8014 --org LAQWU9 --section social_care_plans \
         --purpose direct_care"
    );
    let mut answers = json(endpoint, &words(&question)).await;
    assert_eq!(answers.len(), 1, "{answers:?}");
    answers.remove(0)
}

#[tokio::test]
async fn a_council_added_to_the_pack_and_applied_sees_social_care() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = PolicyFiles::from_dir(&policies_dir(), PACK).expect("read the published pack");
    let service = Service::start_options(Options::new(dir.path().join("data"), files)).await;
    let endpoint = service.endpoint.as_str();

    // An adult registered in Coventry, with a social care case at the council.
    succeeded(
        &cli(
            endpoint,
            &words(&format!(
                "care register-patient --nhs {NHS} --practice M86003 --dob 1970-01-01"
            )),
        )
        .await,
    );
    succeeded(
        &cli(
            endpoint,
            &words(&format!(
                "care start --nhs {NHS} --relationship sc-2026-001 --org LAQWU9 \
                 --kind social_care_case"
            )),
        )
        .await,
    );

    // Before the council is added: refused, and the reason says why.
    let before = social_worker_asks(endpoint).await;
    assert_eq!(before["outcome"], "DENY", "{before}");
    assert_eq!(
        before["reason"], "organisation_not_in_agreement",
        "{before}"
    );
    assert_eq!(
        before["explanation"],
        "the requester's organisation is not in the sharing agreement"
    );

    // The region's copy passes its scenarios, the published ones and its own.
    let policies = tempfile::tempdir().expect("tempdir");
    let pack = regions_copy(policies.path());
    service_binary::build_beside_the_cli();
    let tested = succeeded(&cli_offline(&["policy", "test", &pack]));
    assert!(
        tested.contains("PASS  council.toml: the council joined by this pack"),
        "{tested}"
    );
    assert!(tested.ends_with(" passed, 0 failed\n"), "{tested}");

    // Applied: the council's JoinOrganisation is the only change.
    let applied = json(endpoint, &["policy", "apply", &pack]).await;
    assert_eq!(applied.len(), 1, "{applied:?}");
    assert_eq!(applied[0]["action"], "join-org", "{applied:?}");
    assert_eq!(applied[0]["stream"], "organisation/LAQWU9", "{applied:?}");
    assert_eq!(
        latest(&log(endpoint).await, "organisation/LAQWU9")["event_type"],
        "OrganisationJoined"
    );

    // The same question is now allowed.
    let after = social_worker_asks(endpoint).await;
    assert_eq!(after["outcome"], "ALLOW", "{after}");
    assert_eq!(after["reason"], "role_permits_section", "{after}");

    service.stop().await;
}

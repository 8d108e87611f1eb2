//! README.md's "Upgrading a Coventry & Warwickshire service", run as
//! written against a real service first started with an earlier version of
//! the pack, whose neighbouring regions named no viewing region.

#[path = "policy_apply/setup.rs"]
#[allow(dead_code, reason = "this test starts its service with its own pack")]
mod setup;
#[path = "../src/shell_words.rs"]
mod shell_words;
mod support;

use consent_service::{Options, PolicyFiles};
use setup::*;
use support::{NHS, Service, cli, json, succeeded, words};

const README: &str = include_str!("../../../README.md");
const HEADING: &str = "#### Upgrading a Coventry & Warwickshire service";

/// A patient registered with a Herefordshire and Worcestershire practice.
const NHS_QGH: &str = "9434765870";

/// The pack as published before QHL and QGH named QWU as a viewing region.
fn earlier_pack() -> PolicyFiles {
    let mut files = PolicyFiles::from_dir(&policies_dir(), PACK).expect("read the pack");
    let viewing = r#"viewing_regions = ["QWU"]"#;
    assert_eq!(files.pack.matches(viewing).count(), 2, "QHL and QGH");
    files.pack = files.pack.replace(viewing, "viewing_regions = []");
    files
}

/// The `consent-cli` commands of the note's `sh` block, continuation lines
/// joined, each split into words as a shell would (double quotes group,
/// `#` starts a comment), without the leading `consent-cli`.
fn upgrade_commands() -> Vec<Vec<String>> {
    let note = README
        .split_once(HEADING)
        .unwrap_or_else(|| panic!("no `{HEADING}` in README.md"))
        .1;
    let block = note
        .split_once("```sh\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .expect("a sh block after the heading")
        .0;
    block
        .replace("\\\n", " ")
        .lines()
        .filter_map(|line| line.strip_prefix("consent-cli "))
        .map(shell_words::split)
        .collect()
}

/// R8000 at University Hospitals Coventry and Warwickshire asks for a
/// patient's medications: the outcome and the reason.
async fn hospital_asks(endpoint: &str, nhs: &str) -> (String, String) {
    let question = format!(
        "authorize --nhs {nhs} --role R8000 --org RKB --section medications --purpose direct_care"
    );
    let answer = json(endpoint, &words(&question)).await.remove(0);
    let text = |field: &str| answer[field].as_str().expect("text").to_owned();
    (text("outcome"), text("reason"))
}

#[tokio::test]
async fn the_readme_upgrade_lets_coventry_view_the_neighbours_registered_adults() {
    let dir = tempfile::tempdir().expect("tempdir");
    let service = Service::start_options(Options::new(dir.path(), earlier_pack())).await;
    let endpoint = service.endpoint.as_str();

    // An adult registered in each neighbouring region, in hospital at RKB.
    for (nhs, practice, region) in [(NHS, "GPQHL1", "QHL"), (NHS_QGH, "GPQGH1", "QGH")] {
        let join = format!("policy join-org --ods {practice} --name Practice --region {region}");
        succeeded(&cli(endpoint, &words(&join)).await);
        let register =
            format!("care register-patient --nhs {nhs} --practice {practice} --dob 1970-01-01");
        succeeded(&cli(endpoint, &words(&register)).await);
        let start = format!(
            "care start --nhs {nhs} --relationship ep-{region} --org RKB --kind inpatient_episode"
        );
        succeeded(&cli(endpoint, &words(&start)).await);
    }
    let refused = ("DENY".to_owned(), "region_may_not_view".to_owned());
    for nhs in [NHS, NHS_QGH] {
        assert_eq!(hospital_asks(endpoint, nhs).await, refused, "{nhs}");
    }

    // Applying today's pack keeps the neighbours as they were.
    let plan = json(endpoint, &["policy", "apply", &pack_dir(), "--dry-run"]).await;
    for region in ["region/QHL", "region/QGH"] {
        let row = plan.iter().find(|row| row["stream"] == region);
        assert_eq!(
            row.map(|row| &row["action"]),
            Some(&"skip".into()),
            "{plan:?}"
        );
    }
    succeeded(&cli(endpoint, &["policy", "apply", &pack_dir()]).await);
    for nhs in [NHS, NHS_QGH] {
        assert_eq!(hospital_asks(endpoint, nhs).await, refused, "{nhs}");
    }

    // The README's commands, as written.
    let commands = upgrade_commands();
    assert_eq!(commands.len(), 3, "{commands:?}");
    for command in &commands {
        let args: Vec<&str> = command.iter().map(String::as_str).collect();
        succeeded(&cli(endpoint, &args).await);
    }
    let allowed = ("ALLOW".to_owned(), "role_permits_section".to_owned());
    for nhs in [NHS, NHS_QGH] {
        assert_eq!(hospital_asks(endpoint, nhs).await, allowed, "{nhs}");
    }

    service.stop().await;
}

//! `consent-cli policy test <PACK_DIR>` with the real binary, from the
//! workspace root as a policy author would run it, with the
//! `consent-service` binary beside it.

#[path = "support/service_binary.rs"]
mod service_binary;

use std::path::Path;
use std::process::Command;

fn workspace_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn policy_test(pack_dir: &str) -> std::process::Output {
    service_binary::build_beside_the_cli();
    Command::new(env!("CARGO_BIN_EXE_consent-cli"))
        .current_dir(workspace_root())
        // Nothing listens here: `policy test` must not need a service.
        .args([
            "--endpoint",
            "http://127.0.0.1:9",
            "policy",
            "test",
            pack_dir,
        ])
        .output()
        .expect("run consent-cli")
}

#[test]
fn the_default_packs_scenarios_pass() {
    let output = policy_test("policies/coventry-warwickshire");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    let Some((summary, scenarios)) = lines.split_last() else {
        panic!("no output: {stderr}");
    };
    assert!(!scenarios.is_empty(), "{stdout}");
    assert!(
        scenarios.iter().all(|l| l.starts_with("PASS  ")),
        "{stdout}"
    );
    assert_eq!(*summary, format!("{} passed, 0 failed", scenarios.len()));
}

/// A copy of the default pack in `dir` (with the model and rules beside
/// it), its `pack.toml` passed through `edit`, and `scenario` as its only
/// scenario file, `wrong.toml`; the pack directory.
fn pack_copy(dir: &Path, edit: impl Fn(String) -> String, scenario: &str) -> String {
    let policies = workspace_root().join("policies");
    for file in ["model.conf", "rules.csv"] {
        std::fs::copy(policies.join(file), dir.join(file)).expect("copy");
    }
    let pack = dir.join("coventry-warwickshire");
    std::fs::create_dir_all(pack.join("scenarios")).expect("mkdir");
    let text = std::fs::read_to_string(policies.join("coventry-warwickshire/pack.toml"))
        .expect("read the pack");
    std::fs::write(pack.join("pack.toml"), edit(text)).expect("write the pack");
    std::fs::write(pack.join("scenarios/wrong.toml"), scenario).expect("write");
    pack.to_str().expect("utf-8 path").to_owned()
}

const UNREGISTERED: &str = r#"
[[scenario]]
name = "an unregistered patient is wrongly expected to be visible"
when = { nhs = "9434765919", role = "R8000", org = "RKB", section = "medications" }
then = { outcome = "allow" }
"#;

#[test]
fn a_failing_scenario_fails_the_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pack = pack_copy(dir.path(), |pack| pack, UNREGISTERED);

    let output = policy_test(&pack);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("FAIL  wrong.toml: an unregistered patient is wrongly expected to be visible: expected allow, got deny (outside_population"),
        "{stdout}"
    );
    assert!(stdout.ends_with("0 passed, 1 failed\n"), "{stdout}");
}

/// The service started for a scenario refuses the pack: the scenario fails
/// with the service's own words.
#[test]
fn a_pack_the_service_refuses_fails_with_the_services_words() {
    let dir = tempfile::tempdir().expect("tempdir");
    let misspelt = |pack: String| pack.replacen("\"medications\"", "\"medicine\"", 1);
    let pack = pack_copy(dir.path(), misspelt, UNREGISTERED);

    let output = policy_test(&pack);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("could not start the service: ")
            && stdout.contains(
                "exited before serving (exit status: 1): error: policy pack \
                 coventry-warwickshire: role R8000: unknown section 'medicine'"
            ),
        "{stdout}"
    );
}

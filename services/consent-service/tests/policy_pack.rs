//! `--policy-pack` on a data directory that already holds policy: the pack
//! is not loaded, and the service says so and how to change the policy,
//! rather than ignoring the flag without a word.

mod common;

use common::Service;

/// The line that says a pack given at start was not loaded.
const NOT_LOADED: &str = "was not loaded";

#[test]
fn another_pack_on_a_directory_with_policy_is_named_as_not_loaded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let first = Service::start(&data, &["--policy-pack", "coventry-warwickshire"]);
    first.kill();

    let again = Service::start(&data, &["--policy-pack", "coventry-warwickshire"]);
    let printed = again.printed();
    assert!(
        !printed.contains(NOT_LOADED),
        "the pack the log was started with is no news:\n{printed}"
    );
    assert!(
        printed.contains("policy pack coventry-warwickshire was loaded at first start"),
        "{printed}"
    );
    again.kill();

    let other = Service::start(&data, &["--policy-pack", "bsw"]);
    let printed = other.printed();
    let warning = printed
        .lines()
        .find(|line| line.contains(NOT_LOADED))
        .unwrap_or_else(|| panic!("the ignored pack is named:\n{printed}"));
    assert!(warning.contains("WARN"), "{warning}");
    assert!(
        warning.contains(
            "--policy-pack bsw was not loaded: this data directory already holds policy \
             (another pack's, or written through the policy RPCs); the policy in the log \
             applies; to change it, run `consent-cli policy apply <PACK_DIR>` against the \
             running service"
        ),
        "{warning}"
    );
    other.kill();
}

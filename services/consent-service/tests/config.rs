//! The configuration file on the real binary: its settings apply, flags and
//! environment variables override them, the effective configuration is
//! logged, and a mistake stops the start naming the key.

mod common;

use std::process::Command;

use common::Service;

fn config_file(dir: &std::path::Path, text: &str) -> String {
    let path = dir.join("consent-service.toml");
    std::fs::write(&path, text).expect("write");
    path.display().to_string()
}

#[test]
fn the_file_applies_and_flags_override_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config_file(
        dir.path(),
        "max_in_flight = 7\nrate_per_caller = 50\nsnapshot_every_events = 0\nlog_format = \"json\"\n",
    );
    let service = Service::start(
        &dir.path().join("data"),
        &["--config", &config, "--rate-per-caller", "60"],
    );
    let printed = service.printed();
    let effective = printed
        .lines()
        .find(|line| line.contains("effective configuration"))
        .unwrap_or_else(|| panic!("logged:\n{printed}"));
    assert!(
        effective.contains("max_in_flight: 7"),
        "from the file: {effective}"
    );
    assert!(
        effective.contains("rate_per_caller: 60"),
        "the flag wins: {effective}"
    );
    assert!(
        effective.contains("snapshot_every_events: 0"),
        "{effective}"
    );
    service.kill();
}

#[test]
fn an_environment_variable_overrides_the_file() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config_file(
        dir.path(),
        "rate_per_caller = 50\nlisten = \"127.0.0.1:0\"\n",
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_consent-service"))
        .args(["--config", &config, "--data-dir"])
        .arg(dir.path().join("data"))
        .env("ICR_RATE_PER_CALLER", "70")
        .env("NO_COLOR", "1")
        .stderr(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run");
    let stdout = child.stdout.take().expect("stdout");
    let effective = std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find(|line| line.contains("effective configuration"));
    let _ = child.kill();
    let _ = child.wait();
    let effective = effective.expect("the effective configuration is logged");
    assert!(effective.contains("rate_per_caller: 70"), "{effective}");
    assert!(
        effective.contains("listen: 127.0.0.1:0"),
        "from the file: {effective}"
    );
}

fn refused(config_text: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config_file(dir.path(), config_text);
    let output = Command::new(env!("CARGO_BIN_EXE_consent-service"))
        .args(["--config", &config, "--data-dir"])
        .arg(dir.path().join("data"))
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run");
    assert!(!output.status.success(), "must not start");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_typo_is_one_plain_line_even_with_backtraces_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config_file(dir.path(), "max_inflight = 7\n");
    let output = Command::new(env!("CARGO_BIN_EXE_consent-service"))
        .args(["--config", &config, "--data-dir"])
        .arg(dir.path().join("data"))
        .env("RUST_BACKTRACE", "1")
        .env("RUST_LIB_BACKTRACE", "1")
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1), "must not start");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr,
        format!(
            "error: {config}: `max_inflight`: unknown key; the keys are the long flags of \
             --help, with _ for -\n"
        ),
        "one line, no backtrace"
    );
}

#[test]
fn a_mistake_in_the_file_stops_the_start_naming_the_key() {
    let stderr = refused("max_inflight = 7\n");
    assert!(stderr.contains("`max_inflight`: unknown key"), "{stderr}");
    let stderr = refused("max_in_flight = \"lots\"\n");
    assert!(stderr.contains("--max-in-flight"), "{stderr}");
    let stderr = refused("listen = [1, 2]\n");
    assert!(stderr.contains("`listen`: must be"), "{stderr}");
}

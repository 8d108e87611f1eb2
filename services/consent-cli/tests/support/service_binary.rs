//! The `consent-service` binary beside `consent-cli`, where `policy test`
//! looks for it. Cargo builds only this package's binaries for its tests,
//! so the first test that needs the service builds it, into the same
//! target directory and profile.

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

/// Builds `consent-service` beside the `consent-cli` under test, once per
/// test binary.
pub(crate) fn build_beside_the_cli() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cli = Path::new(env!("CARGO_BIN_EXE_consent-cli"));
        let profile_dir = cli.parent().expect("the CLI is in a profile directory");
        let target_dir = profile_dir.parent().expect("in a target directory");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = Command::new(cargo);
        build
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
            .args([
                "build",
                "--quiet",
                "-p",
                "consent-service",
                "--bin",
                "consent-service",
            ])
            .arg("--target-dir")
            .arg(target_dir);
        if profile_dir
            .file_name()
            .is_some_and(|name| name == "release")
        {
            build.arg("--release");
        }
        let status = build.status().expect("run cargo build");
        assert!(status.success(), "cargo build -p consent-service: {status}");
        let service =
            cli.with_file_name(format!("consent-service{}", std::env::consts::EXE_SUFFIX));
        assert!(
            service.is_file(),
            "no {} after the build",
            service.display()
        );
    });
}

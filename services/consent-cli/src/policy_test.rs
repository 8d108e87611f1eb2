//! `policy test <PACK_DIR>`: runs a policy pack's scenarios
//! (`<PACK_DIR>/scenarios/*.toml`), each against a fresh `consent-service`
//! started from the pack on disk, so a policy author can check a change
//! before it is loaded anywhere. Needs no running service: `--endpoint` is
//! not used; it needs the `consent-service` binary, beside `consent-cli` or
//! named by `--service-binary` ([`child`]).

mod child;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use icr_packs::PolicyFiles;
use icr_scenarios::Report;
use serde_json::json;

use crate::output::{self, Output};
use child::ServiceBinary;

/// Arguments of `policy test`.
#[derive(Args, Debug, Clone)]
pub(crate) struct TestArgs {
    /// The pack's directory, e.g. `policies/coventry-warwickshire`: its
    /// `pack.toml` and `scenarios/*.toml`, with `model.conf` and `rules.csv`
    /// from its parent directory.
    #[arg(value_name = "PACK_DIR")]
    pub(crate) pack_dir: PathBuf,
    /// The `consent-service` binary each scenario's service runs; by
    /// default the one beside `consent-cli`.
    #[arg(long, value_name = "PATH", env = "ICR_SERVICE_BINARY")]
    pub(crate) service_binary: Option<PathBuf>,
}

/// Runs the pack's scenarios, prints a line per scenario and a summary, and
/// fails when any scenario failed.
pub(crate) async fn run(args: &TestArgs, output: Output) -> Result<()> {
    let (files, scenarios_dir) = pack(&args.pack_dir)?;
    let scenarios = icr_scenarios::load(&scenarios_dir)?;
    let services = ServiceBinary::find(args.service_binary.as_deref())?;
    let report = tokio::select! {
        report = icr_scenarios::run(services, &files, &scenarios) => report,
        () = interrupted() => bail!("interrupted; the scenarios' services were stopped"),
    };
    print(&report, output)?;
    if report.failed() > 0 {
        bail!(
            "{} of {} scenarios failed",
            report.failed(),
            report.results.len()
        );
    }
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM. Returning then drops the runner, and
/// with it every scenario's service process (each is killed on drop), so a
/// stopped `policy test` leaves none running.
async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut terminate) = signal(SignalKind::terminate()) {
            tokio::select! {
                interrupt = tokio::signal::ctrl_c() => {
                    if interrupt.is_err() {
                        terminate.recv().await;
                    }
                }
                _ = terminate.recv() => {}
            }
            return;
        }
    }
    // No handler could be installed: never resolve, rather than at once.
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// The policy files of the pack in `pack_dir` and its scenarios directory.
pub(crate) fn pack(pack_dir: &Path) -> Result<(PolicyFiles, PathBuf)> {
    // `policies/bsw/` and `policies/bsw` name the same pack.
    let pack_dir = pack_dir.components().collect::<PathBuf>();
    let name = pack_dir
        .file_name()
        .and_then(|name| name.to_str())
        .with_context(|| format!("`{}` does not name a pack directory", pack_dir.display()))?;
    let parent = match pack_dir.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    };
    let files = PolicyFiles::from_dir(&parent, name)?;
    Ok((files, pack_dir.join("scenarios")))
}

/// A line per scenario (`PASS`/`FAIL`) and the summary, or one JSON object
/// per scenario and one for the summary.
fn print(report: &Report, output: Output) -> std::io::Result<()> {
    if !output.is_json() {
        return output::write_text(&format!("{report}\n"));
    }
    for result in &report.results {
        output::json_line(&json!({
            "name": result.name,
            "file": result.file.display().to_string(),
            "passed": result.passed(),
            "failure": result.failure,
            "elapsed_ms": u64::try_from(result.elapsed.as_millis()).unwrap_or(u64::MAX),
        }))?;
    }
    output::json_line(&json!({ "passed": report.passed(), "failed": report.failed() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pack_name_and_policies_dir_come_from_the_path() {
        let (files, scenarios) = pack(Path::new("../../policies/bsw/")).expect("pack");
        assert_eq!(files.pack_name, "bsw");
        assert!(files.pack.contains("name = \"bsw\""));
        assert_eq!(scenarios, PathBuf::from("../../policies/bsw/scenarios"));
    }

    #[test]
    fn a_missing_pack_says_which_file() {
        let error = pack(Path::new("../../policies/no-such-pack")).expect_err("missing");
        assert!(format!("{error:#}").contains("no-such-pack"), "{error:#}");
    }
}

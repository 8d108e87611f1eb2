//! The configuration file: TOML whose keys are the service's long flags
//! with `_` for `-` (`max_in_flight = 512` for `--max-in-flight 512`).
//!
//! Precedence, highest first: the command line, the environment
//! (`ICR_*`), the file, the built-in defaults. The file's settings become
//! flags for the keys the command line and environment left at their
//! defaults, so every value is checked by the same parser, with the same
//! messages, wherever it came from.

use std::ffi::OsString;
use std::path::Path;

use anyhow::{Context, bail};
use clap::parser::ValueSource;

/// The flag that names the configuration file.
pub const CONFIG_FLAG: &str = "config";

/// `argv` with the settings of the configuration file it names (if any)
/// added as flags, for each key neither the command line nor the
/// environment set. An unknown key, or a value that is not a string,
/// number or boolean, is refused with the file and key named. When `argv`
/// itself does not parse (`--help`, a typo), it is returned unchanged for
/// the real parse to report.
pub fn with_config_file(
    command: &clap::Command,
    argv: Vec<OsString>,
) -> anyhow::Result<Vec<OsString>> {
    let Ok(matches) = command.clone().try_get_matches_from(&argv) else {
        return Ok(argv);
    };
    let Some(path) = matches.get_one::<std::path::PathBuf>(CONFIG_FLAG) else {
        return Ok(argv);
    };
    let settings = read(path)?;
    let mut argv = argv;
    for (key, value) in settings {
        let at = || format!("{}: `{key}`", path.display());
        let Some(arg) = command
            .get_arguments()
            .find(|arg| arg.get_id().as_str() == key && arg.get_long().is_some())
            .filter(|_| key != CONFIG_FLAG)
        else {
            bail!(
                "{}: unknown key; the keys are the long flags of --help, with _ for -",
                at()
            );
        };
        let given = matches!(
            matches.value_source(&key),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        );
        if given {
            continue;
        }
        let flag = format!("--{}", arg.get_long().unwrap_or(key.as_str()));
        match value {
            toml::Value::Boolean(true) => argv.push(flag.into()),
            toml::Value::Boolean(false) => {}
            toml::Value::String(text) => argv.push(format!("{flag}={text}").into()),
            toml::Value::Integer(n) => argv.push(format!("{flag}={n}").into()),
            toml::Value::Float(x) => argv.push(format!("{flag}={x}").into()),
            _ => bail!("{}: must be a string, a number or true/false", at()),
        }
    }
    Ok(argv)
}

fn read(path: &Path) -> anyhow::Result<toml::Table> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the configuration file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("in the configuration file {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Arg, ArgAction, Command};

    fn command() -> Command {
        Command::new("svc")
            .arg(
                Arg::new(CONFIG_FLAG)
                    .long("config")
                    .value_parser(clap::value_parser!(std::path::PathBuf)),
            )
            .arg(
                Arg::new("max_in_flight")
                    .long("max-in-flight")
                    .default_value("1024"),
            )
            .arg(
                Arg::new("data_dir")
                    .long("data-dir")
                    .env("SVC_DATA_DIR_FOR_TEST")
                    .default_value("data"),
            )
            .arg(Arg::new("quiet").long("quiet").action(ArgAction::SetTrue))
    }

    fn file(text: &str) -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config.toml");
        std::fs::write(&path, text).expect("write");
        (dir, path.display().to_string())
    }

    fn argv(args: &[&str]) -> Vec<OsString> {
        std::iter::once("svc")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect()
    }

    #[test]
    fn the_file_fills_what_the_command_line_left_at_its_default() {
        let (_dir, path) = file("max_in_flight = 7\ndata_dir = \"/srv\"\nquiet = true\n");
        let merged = with_config_file(&command(), argv(&["--config", &path, "--data-dir", "here"]))
            .expect("merged");
        let matches = command().try_get_matches_from(merged).expect("parses");
        assert_eq!(
            matches
                .get_one::<String>("max_in_flight")
                .map(String::as_str),
            Some("7")
        );
        assert_eq!(
            matches.get_one::<String>("data_dir").map(String::as_str),
            Some("here")
        );
        assert!(matches.get_flag("quiet"));
    }

    #[test]
    fn unknown_keys_and_tables_are_refused_by_name() {
        let (_dir, path) = file("max_inflight = 7\n");
        let error = with_config_file(&command(), argv(&["--config", &path])).unwrap_err();
        assert!(
            format!("{error:#}").contains("`max_inflight`: unknown key"),
            "{error:#}"
        );
        let (_dir, path) = file("[max_in_flight]\nn = 1\n");
        let error = with_config_file(&command(), argv(&["--config", &path])).unwrap_err();
        assert!(
            format!("{error:#}").contains("`max_in_flight`: must be"),
            "{error:#}"
        );
        let (_dir, path) = file("config = \"other.toml\"\n");
        let error = with_config_file(&command(), argv(&["--config", &path])).unwrap_err();
        assert!(
            format!("{error:#}").contains("`config`: unknown key"),
            "{error:#}"
        );
    }
}

//! Every `consent-cli` command the README shows parses with today's command
//! line, so the walk-throughs cannot fall behind a renamed flag or command.

use clap::Parser;

use crate::Cli;

const README: &str = include_str!("../../../README.md");

/// The `consent-cli` command lines of the README's `sh` blocks, with
/// continuation lines joined.
fn readme_commands() -> Vec<String> {
    let mut commands = Vec::new();
    let mut in_shell = false;
    let mut pending: Option<String> = None;
    for line in README.lines() {
        if line.starts_with("```") {
            in_shell = line == "```sh";
            continue;
        }
        if !in_shell {
            continue;
        }
        let line = match pending.take() {
            Some(start) => format!("{start} {}", line.trim()),
            None if line.starts_with("consent-cli ") => line.to_owned(),
            None => continue,
        };
        match line.strip_suffix('\\') {
            Some(start) => pending = Some(start.trim_end().to_owned()),
            None => commands.push(line),
        }
    }
    commands
}

/// The words of a command line ([`crate::shell_words::split`]), with
/// placeholders filled in:
/// `<POSITION>` with a position, any other `<...>` with a word.
fn shell_words(line: &str) -> Vec<String> {
    crate::shell_words::split(line)
        .into_iter()
        .map(|word| match word.as_str() {
            "<POSITION>" => "2".to_owned(),
            w if w.starts_with('<') && w.ends_with('>') => "01JPLACEHOLDER".to_owned(),
            _ => word,
        })
        .collect()
}

#[test]
fn the_readme_shows_commands_of_every_group() {
    let commands = readme_commands();
    for group in [
        "authorize",
        "consent",
        "care",
        "policy",
        "events",
        "audit",
        "verify",
    ] {
        assert!(
            commands
                .iter()
                .any(|c| c.starts_with(&format!("consent-cli {group}"))),
            "no `consent-cli {group}` in the README"
        );
    }
}

#[test]
fn every_command_the_readme_shows_parses() {
    for line in readme_commands() {
        let words = shell_words(&line);
        if let Err(error) = Cli::try_parse_from(&words) {
            panic!("README: `{line}` does not parse as {words:?}:\n{error}");
        }
    }
}

#[test]
fn shell_words_group_quotes_and_drop_comments() {
    assert_eq!(
        shell_words(r#"consent-cli x --note "a b" <ID> # why"#),
        ["consent-cli", "x", "--note", "a b", "01JPLACEHOLDER"]
    );
}

//! Shell completion scripts, printed without a service to talk to.

mod support;

use support::{cli_offline, succeeded};

#[test]
fn completion_scripts_name_the_commands() {
    let bash = succeeded(&cli_offline(&["completions", "bash"]));
    assert!(
        bash.contains("complete -F _consent__cli"),
        "a bash completion function"
    );
    for command in ["authorize", "consent", "audit", "verify", "completions"] {
        assert!(bash.contains(command), "{command} completes");
    }
    let zsh = succeeded(&cli_offline(&["completions", "zsh"]));
    assert!(
        zsh.starts_with("#compdef consent-cli"),
        "{}",
        &zsh[..40.min(zsh.len())]
    );
}

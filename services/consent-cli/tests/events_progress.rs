//! The replay progress line is for people at a terminal: with stderr
//! going to a pipe, `events` and `audit trail` write nothing but their
//! rows on stdout and their plain notes on stderr.

mod support;

use consent_service::{Options, PolicyFiles};
use support::{Service, cli, json_lines, stderr};

/// Asserts `notes` holds only the caught-up line a script can read: no
/// carriage returns, no escape sequences, no spinner.
fn only_the_caught_up_note(notes: &str) {
    assert!(
        !notes.contains('\r') && !notes.contains('\u{1b}'),
        "control characters on stderr: {notes:?}"
    );
    let lines: Vec<&str> = notes.lines().collect();
    assert_eq!(lines.len(), 1, "{notes:?}");
    assert!(lines[0].starts_with("caught up at position "), "{notes:?}");
}

#[tokio::test]
async fn a_replay_to_a_pipe_draws_no_progress() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The default pack puts its policy events in the log at first start.
    let service = Service::start_options(Options::new(dir.path(), PolicyFiles::built_in())).await;
    let endpoint = service.endpoint.as_str();

    let events = cli(endpoint, &["events", "--json"]).await;
    let rows = json_lines(&events);
    assert!(rows.len() > 5, "{rows:?}");
    let last = rows.last().and_then(|row| row["position"].as_u64());
    only_the_caught_up_note(&stderr(&events));
    assert_eq!(
        stderr(&events).trim(),
        format!("caught up at position {}", last.expect("position"))
    );

    // A bounded replay would draw a bar; to a pipe it draws nothing, and
    // it ends at its limit before any caught-up note.
    let limited = cli(endpoint, &["events", "--json", "--limit", "2"]).await;
    assert_eq!(json_lines(&limited).len(), 2);
    assert_eq!(stderr(&limited), "");

    // The table form, and the flag that turns the line off everywhere.
    let table = cli(
        endpoint,
        &["events", "--no-progress", "--type", "RegionPolicySet"],
    )
    .await;
    assert!(table.status.success(), "{}", stderr(&table));
    let text = String::from_utf8(table.stdout).expect("UTF-8");
    assert!(text.starts_with("POSITION"), "{text}");
    assert!(text.contains("RegionPolicySet"), "{text}");
    only_the_caught_up_note(&String::from_utf8_lossy(&table.stderr));

    // The decision replay shares the line.
    let trail = cli(endpoint, &["audit", "trail", "--json"]).await;
    assert_eq!(json_lines(&trail).len(), 0);
    only_the_caught_up_note(&stderr(&trail));

    service.stop().await;
}

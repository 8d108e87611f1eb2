//! The pack the tests apply, a service that starts with no policy at all,
//! and what they read back from it through the CLI.

use std::path::{Path, PathBuf};

use consent_service::{Options, PolicyFiles};
use serde_json::Value;

use crate::support::{Service, cli, json, succeeded, words};

pub(super) const PACK: &str = "coventry-warwickshire";

pub(super) fn policies_dir() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies")).to_owned()
}

pub(super) fn pack_dir() -> String {
    policies_dir().join(PACK).display().to_string()
}

/// Options of a service with the shared model and rules and an empty pack:
/// its log starts with no event.
pub(super) fn options_without_policy(data_dir: &Path) -> Options {
    let mut files = PolicyFiles::built_in();
    files.pack_name = "empty".to_owned();
    files.pack = "[pack]\nname = \"empty\"\ndescription = \"no policy yet\"\n".to_owned();
    Options::new(data_dir, files)
}

/// The service without policy, in plain text.
pub(super) async fn service_without_policy(data_dir: &Path) -> Service {
    Service::start_options(options_without_policy(data_dir)).await
}

/// Every event in the log, as `events --json` prints them.
pub(super) async fn log(endpoint: &str) -> Vec<Value> {
    json(endpoint, &["events"]).await
}

/// The medications of the README's patient, asked as R8000 at RKB.
pub(super) async fn authorize(endpoint: &str) -> String {
    let question = "authorize --nhs 9434765919 --role R8000 --org RKB --section medications --purpose direct_care";
    succeeded(&cli(endpoint, &words(question)).await)
}

/// The pack's own entries, counted from its file.
pub(super) fn pack_entries() -> usize {
    let files = PolicyFiles::from_dir(&policies_dir(), PACK).expect("read the pack");
    files.pack_events().expect("parse the pack").len()
}

/// The latest event of `stream` in `events`.
pub(super) fn latest<'a>(events: &'a [Value], stream: &str) -> &'a Value {
    events
        .iter()
        .rfind(|event| event["stream"] == stream)
        .unwrap_or_else(|| panic!("no event on {stream}"))
}

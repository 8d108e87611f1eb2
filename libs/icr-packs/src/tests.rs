//! The built-in packs parse, validate and build an engine; a bad pack is
//! refused naming what is wrong.

use super::*;
use icr_proto::pb::event_payload::Kind;

#[test]
fn every_built_in_pack_parses_and_validates() {
    for name in PolicyFiles::built_in_pack_names() {
        let files = PolicyFiles::built_in_pack(name).expect("built in");
        let events = files
            .pack_events()
            .unwrap_or_else(|e| panic!("{name}: {e:#}"));
        assert!(!events.is_empty(), "{name}");
        for event in &events {
            validate_policy_event(event).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}

#[test]
fn built_in_pack_parses_into_policy_events() {
    let events = PolicyFiles::built_in().pack_events().expect("pack");
    assert!(
        events
            .iter()
            .any(|e| matches!(&e.kind, Some(Kind::RolePolicySet(r)) if r.role_code == "R8000"))
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(&e.kind, Some(Kind::OrganisationJoined(o)) if o.ods_code == "RKB"))
    );
}

#[tokio::test]
async fn every_built_in_pack_builds_an_engine_with_the_model_and_rules() {
    for name in PolicyFiles::built_in_pack_names() {
        let files = PolicyFiles::built_in_pack(name).expect("built in");
        files
            .check()
            .await
            .unwrap_or_else(|e| panic!("{name}: {e:#}"));
    }
}

#[tokio::test]
async fn a_model_calling_a_pattern_function_is_refused_at_start() {
    let mut files = PolicyFiles::built_in();
    files.model = files
        .model
        .replace("r.section == p.section", "regexMatch(r.section, p.section)");
    let err = files.check().await.expect_err("refused");
    assert!(format!("{err:#}").contains("regexMatch"), "{err:#}");
}

#[test]
fn unknown_section_names_are_refused() {
    let mut files = PolicyFiles::built_in();
    files.pack = files.pack.replacen("\"medications\"", "\"medicine\"", 1);
    let err = files.pack_events().unwrap_err();
    assert!(
        format!("{err:#}").contains("unknown section 'medicine'"),
        "{err:#}"
    );
}

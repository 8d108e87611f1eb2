//! What the binary says when it cannot open its data directory: another
//! service holds it, or sled finds the storage damaged. Each is said once,
//! in words that say what to do, without sled's own (`WouldBlock`,
//! `backtrace ()`).

mod common;

use common::Service;

#[test]
fn a_second_service_on_the_same_directory_is_told_once_who_holds_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let first = Service::start(&data, &[]);
    let printed = Service::try_start(&data, &[])
        .err()
        .expect("the second service does not start");
    let expected = format!(
        "refusing to start: another consent-service (or consent-cli) is using this directory \
         ({}): stop it first, or work on a copy of the directory",
        data.display()
    );
    assert_eq!(printed.matches(&expected).count(), 1, "{printed}");
    assert!(!printed.contains("WouldBlock"), "{printed}");
    assert!(!printed.contains("could not acquire lock"), "{printed}");
    first.kill();
}

#[test]
fn damaged_storage_is_named_with_what_was_acknowledged_and_what_to_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    Service::start(&data, &[]).kill();
    // sled's own configuration, which it checks before reading its log.
    std::fs::write(data.join("conf"), "segment_size: many\n").expect("damage conf");
    let printed = Service::try_start(&data, &[])
        .err()
        .expect("the service does not start");
    let expected = format!(
        "refusing to start: the log in {} cannot be opened: its storage is damaged (sled did \
         not say where). Events up to ",
        data.display()
    );
    assert!(
        printed.contains(&expected),
        "`{expected}` not in:\n{printed}"
    );
    assert!(
        printed.contains(
            "To go on, restore the directory from a verified copy or backup (check a \
             copy with `consent-cli verify --data-dir COPY`) and keep this one for investigation"
        ),
        "{printed}"
    );
    // sled's own words, which say neither what to do nor much of what.
    assert!(!printed.contains("backtrace ()"), "{printed}");
    assert!(!printed.contains("Read corrupted data"), "{printed}");
    assert!(!printed.contains("Caused by"), "{printed}");
}

#[test]
fn a_record_of_what_was_acknowledged_gone_from_the_directory_is_refused_not_recreated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    Service::start(&data, &[]).kill();
    // A file-system check, or a backup copied without it.
    let record = data.join(icr_log::ACKNOWLEDGED_HEADS_FILE);
    std::fs::remove_file(&record).expect("remove the record");
    let printed = Service::try_start(&data, &[])
        .err()
        .expect("the service does not start");
    let expected = format!(
        "refusing to start: the record of what was acknowledged ({}) is missing, though this \
         log has kept one",
        record.display()
    );
    assert_eq!(printed.matches(&expected).count(), 1, "{printed}");
    assert!(
        printed.contains(
            "To go on, restore the directory, including `acknowledged-heads`, from a verified \
             copy or backup; or, once the log was compared with a backup, record its heads \
             anew with `consent-cli verify --data-dir DIR --replace-acknowledged-record`"
        ),
        "{printed}"
    );
    assert!(!record.exists(), "refusing recreates nothing");
}

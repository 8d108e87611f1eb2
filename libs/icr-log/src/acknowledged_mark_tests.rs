//! The mark in sled that the record is kept: a record gone from a directory
//! that kept one is refused; one that never kept one gets one; verifying
//! writes none; replacing it is explicit.

use super::*;

#[tokio::test]
async fn a_record_gone_from_a_directory_that_kept_one_is_refused() {
    let dir = short_log().await;
    let data = dir.path().join("data");
    // The log lost its tail, and the record went with a file-system check.
    std::fs::remove_file(data.join(FILE_NAME)).expect("remove");
    for open in [SledLog::open, SledLog::open_to_verify] {
        let error = open(&data).err().expect("refused");
        assert!(matches!(error, LogError::AcknowledgedMissing(_)), "{error}");
        assert_eq!(
            error.to_string(),
            format!(
                "the record of what was acknowledged ({}) is missing, though this log has \
                 kept one (a file-system check, or a copy or backup made without it, can \
                 leave a directory so): whether acknowledged records are missing cannot be \
                 told. To go on, restore the directory, including `acknowledged-heads`, from \
                 a verified copy or backup; or, once the log was compared with a backup, \
                 record its heads anew with `consent-cli verify --data-dir DIR \
                 --replace-acknowledged-record`, which keeps the old file as \
                 `acknowledged-heads.replaced`: a tail lost before then could no longer be \
                 detected",
                data.join(FILE_NAME).display()
            )
        );
    }
    assert!(!data.join(FILE_NAME).exists(), "refusing creates nothing");
}

#[tokio::test]
async fn a_directory_from_before_the_record_gets_one_with_a_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = SledLog::open(dir.path()).expect("open");
    write(&log, 1, 4, 1).await;
    drop(log);
    // As a version that kept no record left it: no file, no mark.
    std::fs::remove_file(dir.path().join(FILE_NAME)).expect("remove");
    unmark(dir.path());
    let (verified, warned) = logged(|| SledLog::open_to_verify(dir.path()));
    assert_eq!(verified.expect("opens to verify").acknowledged(), None);
    assert_eq!(warned, "");
    assert!(
        !dir.path().join(FILE_NAME).exists(),
        "verifying writes none"
    );
    let (log, warned) = logged(|| SledLog::open(dir.path()));
    let log = log.expect("reopen");
    assert!(
        warned.contains(
            "this directory kept no record of what was acknowledged (it was written by an \
             earlier version); one is kept from now on, holding events up to 4 and decisions \
             up to 1: a tail lost before now cannot be detected"
        ),
        "{warned}"
    );
    let recorded = read(dir.path()).expect("read").expect("created");
    assert_eq!((recorded.events, recorded.decisions), (4, 1));
    assert_eq!(log.verify(None).expect("read").expect("verifies").events, 4);
    assert!(marked(&log.inner.db).expect("read the mark"), "and marked");
}

#[test]
fn a_new_directory_gets_the_record_and_the_mark_without_a_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, warned) = logged(|| SledLog::open(dir.path()));
    let log = log.expect("open");
    assert_eq!(warned, "");
    assert_eq!(read(dir.path()).expect("read"), Some(Heads::default()));
    assert!(marked(&log.inner.db).expect("read the mark"));
}

#[tokio::test]
async fn a_record_from_before_the_mark_gets_the_mark() {
    let dir = tempfile::tempdir().expect("tempdir");
    drop(SledLog::open(dir.path()).expect("open"));
    // A crash between creating the file and marking leaves this too.
    unmark(dir.path());
    drop(SledLog::open(dir.path()).expect("opens"));
    std::fs::remove_file(dir.path().join(FILE_NAME)).expect("remove");
    let error = SledLog::open(dir.path()).err().expect("marked now");
    assert!(matches!(error, LogError::AcknowledgedMissing(_)), "{error}");
}

#[tokio::test]
async fn verifying_neither_creates_nor_advances_the_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = SledLog::open(dir.path()).expect("open");
    write(&log, 1, 2, 0).await;
    drop(log);
    let recorded = read(dir.path()).expect("read");
    let log = SledLog::open_without_acknowledged_record(dir.path()).expect("open");
    write(&log, 3, 4, 0).await;
    drop(log);
    let log = SledLog::open_to_verify(dir.path()).expect("a longer log verifies");
    assert_eq!(log.acknowledged().map(|heads| heads.events), Some(2));
    drop(log);
    assert_eq!(read(dir.path()).expect("read"), recorded);
}

#[tokio::test]
async fn replacing_the_record_accepts_the_log_as_it_is_and_says_so() {
    let dir = short_log().await;
    let data = dir.path().join("data");
    std::fs::write(data.join(FILE_NAME), [0; 100]).expect("damage both slots");
    let (log, warned) = logged(|| SledLog::open_replacing_acknowledged_record(&data));
    let log = log.expect("replaced");
    assert!(
        warned.contains(
            "the record of what was acknowledged was replaced by the log's heads (events up \
             to 2, decisions up to 0): a tail lost before now can no longer be detected"
        ),
        "{warned}"
    );
    assert_eq!(log.acknowledged().map(|heads| heads.events), Some(2));
    drop(log);
    let kept = std::fs::read(data.join(format!("{FILE_NAME}.replaced"))).expect("kept aside");
    assert_eq!(kept, [0; 100]);
    assert_eq!(SledLog::open(&data).expect("opens").head(), 2);
}

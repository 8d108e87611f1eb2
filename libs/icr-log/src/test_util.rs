//! Fixtures for tests of data directories, behind the `test-util` feature:
//! copies of a directory as a storage failure, or a backup, leaves it.

use std::path::Path;

use crate::acknowledged::FILE_NAME;

/// What becomes of the record of what was acknowledged in a copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    /// Copied with everything else: the directory as it was.
    Copied,
    /// The destination's own record is left as it is, and the source's is
    /// not copied: the log as a storage failure that loses its tail leaves
    /// it, while the record still says what was acknowledged.
    Left,
}

/// Copies data directory `from` into `to` (created when missing), with its
/// subdirectories (sled's `blobs/`, projection snapshots), after removing
/// what `to` held; the record of what was acknowledged is copied or left
/// as `record` says.
pub fn copy_data_dir(from: &Path, to: &Path, record: Record) {
    let copied = |name: &std::ffi::OsStr| record == Record::Copied || name != FILE_NAME;
    std::fs::create_dir_all(to).expect("create the copy's directory");
    for entry in std::fs::read_dir(to).expect("read the copy's directory") {
        let entry = entry.expect("entry");
        if !copied(&entry.file_name()) {
            continue;
        }
        match entry.file_type().expect("type").is_dir() {
            true => std::fs::remove_dir_all(entry.path()).expect("remove"),
            false => std::fs::remove_file(entry.path()).expect("remove"),
        }
    }
    for entry in std::fs::read_dir(from).expect("read the directory") {
        let entry = entry.expect("entry");
        if !copied(&entry.file_name()) {
            continue;
        }
        let target = to.join(entry.file_name());
        match entry.file_type().expect("type").is_dir() {
            true => copy_data_dir(&entry.path(), &target, Record::Copied),
            false => {
                std::fs::copy(entry.path(), target).expect("copy");
            }
        }
    }
}

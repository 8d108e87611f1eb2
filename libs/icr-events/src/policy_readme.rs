//! Blocks of `policies/README.md` that are generated from the code (the
//! fact table, the list of record sections), for the tests that keep them
//! in step: each compares its block with what the code says, and rewrites
//! it when [`UPDATE`] is set.

/// Set to rewrite a generated block instead of failing.
pub const UPDATE: &str = "UPDATE_POLICY_README";

/// Whether the block between the lines `begin` and `end` of
/// `policies/README.md` reads `expected`. With [`UPDATE`] set, a block
/// that differs is rewritten and counts as reading it. Panics, naming them,
/// when the markers are missing.
pub fn generated_block_is(begin: &str, end: &str, expected: &str) -> bool {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies/README.md");
    let readme = std::fs::read_to_string(path).expect("policies/README.md");
    let (Some(start), Some(stop)) = (readme.find(begin), readme.find(end)) else {
        panic!("policies/README.md lacks the markers `{begin}` and `{end}`");
    };
    let start = start + begin.len() + 1;
    if readme[start..stop] == *expected {
        return true;
    }
    if std::env::var_os(UPDATE).is_some() {
        let updated = format!("{}{expected}{}", &readme[..start], &readme[stop..]);
        std::fs::write(path, updated).expect("write policies/README.md");
        return true;
    }
    false
}

//! The list of record sections in `policies/README.md`, against the
//! generated enum it follows from.

use super::{section_name, sections};
use crate::policy_readme::{UPDATE, generated_block_is};

/// Where the generated list starts and ends in `policies/README.md`.
const BEGIN: &str = "<!-- section list: generated from RecordSection in types.proto -->";
const END: &str = "<!-- end of section list -->";
/// Longest line of the list.
const WIDTH: usize = 79;

/// Every section's policy-file name, in backticks, comma-separated, ending
/// with a full stop, wrapped at [`WIDTH`].
fn section_list() -> String {
    let names: Vec<String> = sections().map(section_name).collect();
    let mut text = String::new();
    let mut line = String::new();
    for (i, name) in names.iter().enumerate() {
        let end = if i + 1 == names.len() { "." } else { "," };
        let word = format!("`{name}`{end}");
        if !line.is_empty() && line.len() + 1 + word.len() > WIDTH {
            text += &line;
            text.push('\n');
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line += &word;
    }
    text += &line;
    text.push('\n');
    text
}

#[test]
fn the_policy_readme_lists_every_section() {
    let expected = section_list();
    if generated_block_is(BEGIN, END, &expected) {
        return;
    }
    panic!(
        "policies/README.md lists other sections than RecordSection in \
         proto/icr/consent/v1/types.proto; it should read\n{expected}\n\
         (run with {UPDATE}=1 to rewrite it)"
    );
}

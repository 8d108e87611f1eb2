//! Splitting a command line the README shows into words, as a shell does
//! for the commands it shows: double quotes group, `#` outside quotes
//! starts a comment. Shared by the README tests and the upgrade test, which
//! runs the README's commands as written.

/// The words of `line`.
pub(crate) fn split(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                word.get_or_insert_with(String::new);
            }
            '#' if !quoted && word.is_none() => break,
            c if c.is_whitespace() && !quoted => words.extend(word.take()),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    words
}

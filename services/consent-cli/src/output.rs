//! Printing results: aligned tables for people, JSON lines for scripts.
//!
//! Every command builds its results as `serde_json` objects once and hands
//! them here with the fields to show, so the two forms cannot drift apart:
//! a table column is a JSON field, named the same way (`log_position` is the
//! column `LOG POSITION`).

use std::io::{self, Write};

use serde_json::Value;

/// Gap between table columns.
const COLUMN_GAP: &str = "  ";

/// Where and how results are printed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Output {
    json: bool,
}

impl Output {
    /// Prints JSON lines when `json` is set, tables otherwise.
    pub(crate) fn new(json: bool) -> Self {
        Self { json }
    }

    /// Whether results are printed as JSON lines.
    pub(crate) fn is_json(self) -> bool {
        self.json
    }

    /// Prints records as the rows of a table with the given fields as
    /// columns, or one JSON object per record.
    pub(crate) fn records(self, fields: &[&str], records: &[Value]) -> io::Result<()> {
        if self.json {
            return records.iter().try_for_each(json_line);
        }
        write_text(&render_records(fields, records))
    }

    /// Prints one record as aligned `name  value` lines, or one JSON object.
    pub(crate) fn record(self, fields: &[&str], record: &Value) -> io::Result<()> {
        if self.json {
            return json_line(record);
        }
        write_text(&render_record(fields, record))
    }
}

/// Writes `value` as one compact JSON line on standard output.
pub(crate) fn json_line(value: &Value) -> io::Result<()> {
    writeln!(io::stdout().lock(), "{value}")
}

/// Writes already rendered text on standard output.
pub(crate) fn write_text(text: &str) -> io::Result<()> {
    io::stdout().lock().write_all(text.as_bytes())
}

/// A table of `records` with one column per field, or `(none)` when there
/// are no records.
pub(crate) fn render_records(fields: &[&str], records: &[Value]) -> String {
    if records.is_empty() {
        return "(none)\n".to_owned();
    }
    let rows: Vec<Vec<String>> = records.iter().map(|record| row(fields, record)).collect();
    render_table(Some(&headers(fields)), &rows)
}

/// `name  value` lines for the given fields of one record, names aligned.
pub(crate) fn render_record(fields: &[&str], record: &Value) -> String {
    let rows: Vec<Vec<String>> = fields
        .iter()
        .map(|field| vec![field.replace('_', " "), cell(&record[*field])])
        .collect();
    render_table(None, &rows)
}

/// Column-aligned text: each column as wide as its widest cell, the last
/// column left unpadded so lines carry no trailing spaces.
pub(crate) fn render_table(headers: Option<&[String]>, rows: &[Vec<String>]) -> String {
    let lines: Vec<&[String]> = headers
        .into_iter()
        .chain(rows.iter().map(Vec::as_slice))
        .collect();
    let widths = column_widths(&lines);
    lines
        .into_iter()
        .map(|line| render_line(&widths, line))
        .collect()
}

/// The width of each column: its widest cell.
pub(crate) fn column_widths(lines: &[&[String]]) -> Vec<usize> {
    let columns = lines.iter().map(|line| line.len()).max().unwrap_or(0);
    (0..columns)
        .map(|column| {
            lines
                .iter()
                .filter_map(|line| line.get(column))
                .map(|text| text.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect()
}

/// One line of cells padded to `widths` (a cell wider than its column
/// pushes the rest along), with a newline and no trailing spaces.
pub(crate) fn render_line(widths: &[usize], cells: &[String]) -> String {
    let mut rendered = String::new();
    for (column, cell) in cells.iter().enumerate() {
        if column > 0 {
            rendered.push_str(COLUMN_GAP);
        }
        rendered.push_str(cell);
        let width = widths.get(column).copied().unwrap_or(0);
        let padding = width.saturating_sub(cell.chars().count());
        rendered.extend(std::iter::repeat_n(' ', padding));
    }
    let mut line = rendered.trim_end().to_owned();
    line.push('\n');
    line
}

/// The table headers for `fields`.
pub(crate) fn headers(fields: &[&str]) -> Vec<String> {
    fields.iter().map(|field| header(field)).collect()
}

/// The table cells of one record.
pub(crate) fn row(fields: &[&str], record: &Value) -> Vec<String> {
    fields.iter().map(|field| cell(&record[*field])).collect()
}

/// Bytes as lower-case hex, as keys and hashes are shown.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The first 12 hex digits of a hash, enough to tell hashes apart in a
/// table; the JSON lines carry the whole hash.
pub(crate) fn short_hex(bytes: &[u8]) -> String {
    let mut text = hex(bytes.get(..6).unwrap_or(bytes));
    if bytes.len() > 6 {
        text.push('…');
    }
    text
}

/// Column header for a JSON field: `log_position` → `LOG POSITION`.
fn header(field: &str) -> String {
    field.replace('_', " ").to_ascii_uppercase()
}

/// How a JSON value reads in a table cell. Absent and empty values show as
/// `-` so a blank cell never shifts the eye to the next column.
pub(crate) fn cell(value: &Value) -> String {
    match value {
        Value::Null => "-".to_owned(),
        Value::String(text) if text.is_empty() => "-".to_owned(),
        Value::String(text) => text.clone(),
        Value::Bool(true) => "yes".to_owned(),
        Value::Bool(false) => "no".to_owned(),
        Value::Number(number) => number.to_string(),
        Value::Array(items) if items.is_empty() => "-".to_owned(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(", "),
        Value::Object(_) => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn columns_align_to_the_widest_cell() {
        let records = [
            json!({"section": "medications", "outcome": "ALLOW", "log_position": 7}),
            json!({"section": "mental_health", "outcome": "DENY", "log_position": 12}),
        ];
        let table = render_records(&["section", "outcome", "log_position"], &records);
        assert_eq!(
            table,
            "SECTION        OUTCOME  LOG POSITION\n\
             medications    ALLOW    7\n\
             mental_health  DENY     12\n"
        );
    }

    #[test]
    fn record_names_align_and_values_read_plainly() {
        let record = json!({"event_id": "01J", "replayed": false, "stream_version": 3});
        assert_eq!(
            render_record(&["event_id", "stream_version", "replayed"], &record),
            "event id        01J\n\
             stream version  3\n\
             replayed        no\n"
        );
    }

    #[test]
    fn empty_and_missing_cells_show_a_dash() {
        let records = [json!({"a": "", "b": []})];
        assert_eq!(
            render_records(&["a", "b", "c"], &records),
            "A  B  C\n-  -  -\n"
        );
        assert_eq!(render_records(&["a"], &[]), "(none)\n");
    }

    #[test]
    fn lists_are_joined_and_wide_characters_count_once() {
        assert_eq!(cell(&json!(["a", "b"])), "a, b");
        let rows = vec![
            vec!["é".to_owned(), "x".to_owned()],
            vec!["ab".to_owned(), "y".to_owned()],
        ];
        assert_eq!(render_table(None, &rows), "é   x\nab  y\n");
    }

    #[test]
    fn a_late_row_keeps_to_the_columns_already_printed() {
        let widths = [4, 3];
        let cells = ["a".to_owned(), "b".to_owned()];
        assert_eq!(render_line(&widths, &cells), "a     b\n");
        let wide = ["abcdef".to_owned(), "b".to_owned()];
        assert_eq!(render_line(&widths, &wide), "abcdef  b\n");
    }

    #[test]
    fn hashes_show_as_hex() {
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
        assert_eq!(short_hex(&[0xff; 32]), "ffffffffffff…");
        assert_eq!(short_hex(&[]), "");
    }
}

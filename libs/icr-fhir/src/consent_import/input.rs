//! Reading the resources of an import file: one JSON resource, a `Bundle`
//! of them, or NDJSON (one resource per line, as FHIR Bulk Data writes).

use serde_json::Value;

use super::rejection::{Rejection, RejectionKind};

/// The resources in `text`, in order: the resource itself, the `resource`
/// of each entry of a `Bundle`, or each non-blank line of NDJSON. Whether
/// each is a `Consent` is for [`super::plan_consent_import`] to say.
///
/// A file that is none of these is rejected whole, at the entry or line
/// that could not be read, so that nothing is imported from half a file.
pub fn read_consents(text: &str) -> Result<Vec<Value>, Rejection> {
    match serde_json::from_str::<Value>(text) {
        Ok(value) if value.get("resourceType").and_then(Value::as_str) == Some("Bundle") => {
            bundle_entries(value)
        }
        Ok(value) => Ok(vec![value]),
        Err(whole) => ndjson(text).map_err(|line_error| {
            // One line that does not parse is an NDJSON error, unless the
            // text was meant as a single document (no second JSON line).
            if text.trim().lines().count() <= 1 {
                Rejection::new("", RejectionKind::NotAConsent, format!("not JSON: {whole}"))
            } else {
                line_error
            }
        }),
    }
}

/// The `resource` of each entry of a `Bundle`.
fn bundle_entries(bundle: Value) -> Result<Vec<Value>, Rejection> {
    let Value::Object(mut bundle) = bundle else {
        unreachable!("a value with a resourceType is an object")
    };
    let entries = match bundle.remove("entry") {
        None => return Ok(Vec::new()),
        Some(Value::Array(entries)) => entries,
        Some(_) => {
            return Err(Rejection::new(
                "entry",
                RejectionKind::NotAConsent,
                "a Bundle's entry must be an array",
            ));
        }
    };
    entries
        .into_iter()
        .enumerate()
        .map(|(index, mut entry)| {
            entry
                .get_mut("resource")
                .map(Value::take)
                .filter(Value::is_object)
                .ok_or_else(|| {
                    Rejection::new(
                        format!("entry[{index}].resource"),
                        RejectionKind::Missing,
                        "every entry of the Bundle must carry its resource",
                    )
                })
        })
        .collect()
}

/// Each non-blank line as one JSON value.
fn ndjson(text: &str) -> Result<Vec<Value>, Rejection> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            serde_json::from_str(line).map_err(|error| {
                Rejection::new(
                    format!("line {}", index + 1),
                    RejectionKind::NotAConsent,
                    format!("not JSON: {error}"),
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_resource_a_bundle_and_ndjson_are_read_in_order() {
        let one = read_consents(r#"{"resourceType":"Consent","id":"a"}"#).unwrap();
        assert_eq!(one.len(), 1);
        let bundle = r#"{"resourceType":"Bundle","type":"collection","entry":[
            {"resource":{"resourceType":"Consent","id":"a"}},
            {"resource":{"resourceType":"Consent","id":"b"}}]}"#;
        let ids: Vec<Value> = read_consents(bundle)
            .unwrap()
            .into_iter()
            .map(|r| r["id"].clone())
            .collect();
        assert_eq!(ids, ["a", "b"]);
        let lines = "{\"resourceType\":\"Consent\",\"id\":\"a\"}\n\n{\"resourceType\":\"Consent\",\"id\":\"b\"}\n";
        assert_eq!(read_consents(lines).unwrap().len(), 2);
    }

    #[test]
    fn an_unreadable_file_is_rejected_where_it_breaks() {
        let lines = "{\"resourceType\":\"Consent\"}\n{not json\n";
        assert_eq!(read_consents(lines).unwrap_err().path, "line 2");
        assert_eq!(read_consents("{oops").unwrap_err().path, "");
        let entry = r#"{"resourceType":"Bundle","entry":[{"fullUrl":"urn:uuid:1"}]}"#;
        assert_eq!(read_consents(entry).unwrap_err().path, "entry[0].resource");
    }
}

//! Reading the resources of an import file: one JSON resource, a `Bundle`
//! of them, or NDJSON (one resource per line, as FHIR Bulk Data writes).
//!
//! A Bundle must be a set of current resources: `collection` (resources
//! gathered for the purpose) or `searchset` (what a search of a FHIR
//! server matched). Other types are refused, because their entries are not
//! each the current state of a Consent: a `history` holds every version,
//! newest first, so importing it in order would end with the oldest; a
//! `transaction` or `batch` asks a server to make changes (`entry.request`,
//! deletes included), which this import would not make the same way; and
//! `document`, `message` and the `*-response` types are not lists of
//! Consents at all.
//!
//! The Bundle and each entry are searched for modifier elements too, as
//! each resource is: an `implicitRules` on the Bundle, or a
//! `modifierExtension` on the Bundle or an entry (or anywhere in an
//! entry's `search`, say), may change what the entries mean, so the whole
//! file is refused at its path (`implicitRules`, `entry[1].modifierExtension`).

use serde_json::Value;

use super::modifiers::no_modifiers_at;
use super::rejection::{Rejection, RejectionKind};

/// The resources in `text`, in order: the resource itself, the `resource`
/// of each entry of a `Bundle`, or each non-blank line of NDJSON. Whether
/// each is a `Consent` is for [`super::plan_consent_import`] to say.
///
/// A file that is none of these is rejected whole, at the entry or line
/// that could not be read, so that nothing is imported from half a file;
/// so is a Bundle of any `type` but `collection` and `searchset`.
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

/// The `resource` of each entry of a `Bundle`, once neither the Bundle
/// nor any entry (its `resource` aside, which is checked with the rest of
/// the resource) holds a modifier element.
fn bundle_entries(bundle: Value) -> Result<Vec<Value>, Rejection> {
    let Value::Object(mut bundle) = bundle else {
        unreachable!("a value with a resourceType is an object")
    };
    bundle_type(bundle.get("type"))?;
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
    no_modifiers_at(&Value::Object(bundle), "")?;
    entries
        .into_iter()
        .enumerate()
        .map(|(index, mut entry)| {
            let resource = entry
                .get_mut("resource")
                .map(Value::take)
                .filter(Value::is_object)
                .ok_or_else(|| {
                    Rejection::new(
                        format!("entry[{index}].resource"),
                        RejectionKind::Missing,
                        "every entry of the Bundle must carry its resource",
                    )
                })?;
            no_modifiers_at(&entry, &format!("entry[{index}]"))?;
            Ok(resource)
        })
        .collect()
}

/// Accepts the Bundle types that hold a set of current resources.
fn bundle_type(kind: Option<&Value>) -> Result<(), Rejection> {
    let why = match kind.map(|kind| kind.as_str().ok_or(kind)) {
        Some(Ok("collection" | "searchset")) => return Ok(()),
        None => {
            return Err(Rejection::new(
                "type",
                RejectionKind::Missing,
                "a Bundle must say its type: collection or searchset",
            ));
        }
        Some(Ok("history")) => {
            "holds every version of each resource, newest first; export the current \
             versions as a collection or searchset"
        }
        Some(Ok("transaction" | "batch")) => {
            "asks a FHIR server to make changes (entry.request), which this import would \
             not make the same way; export the current Consents as a collection"
        }
        Some(_) => "not a set of current Consents; export them as a collection or searchset",
    };
    let found = kind.map(Value::to_string).unwrap_or_default();
    Err(Rejection::new(
        "type",
        RejectionKind::UnsupportedBundle,
        format!("{found}: {why}"),
    ))
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
        let entry =
            r#"{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"urn:uuid:1"}]}"#;
        assert_eq!(read_consents(entry).unwrap_err().path, "entry[0].resource");
    }

    #[test]
    fn only_bundles_of_current_resources_are_read() {
        let bundle = |kind: &str| {
            format!(
                r#"{{"resourceType":"Bundle",{kind}"entry":[
                {{"resource":{{"resourceType":"Consent","id":"a"}}}}]}}"#
            )
        };
        for accepted in ["collection", "searchset"] {
            let text = bundle(&format!(r#""type":"{accepted}","#));
            assert_eq!(read_consents(&text).unwrap().len(), 1, "{accepted}");
        }
        for refused in [
            "history",
            "transaction",
            "batch",
            "document",
            "batch-response",
        ] {
            let rejection = read_consents(&bundle(&format!(r#""type":"{refused}","#))).unwrap_err();
            assert_eq!(
                (rejection.path.as_str(), rejection.kind),
                ("type", RejectionKind::UnsupportedBundle),
                "{refused}"
            );
            assert!(rejection.detail.contains(refused), "{rejection}");
        }
        let untyped = read_consents(&bundle("")).unwrap_err();
        assert_eq!(
            (untyped.path.as_str(), untyped.kind),
            ("type", RejectionKind::Missing)
        );
        let numbered = read_consents(&bundle(r#""type":7,"#)).unwrap_err();
        assert_eq!(numbered.kind, RejectionKind::UnsupportedBundle);
    }

    #[test]
    fn a_modifier_on_the_bundle_or_an_entry_refuses_the_file_at_its_path() {
        let x = r#"[{"url":"https://example.org/x"}]"#;
        let consent = r#"{"resourceType":"Consent","id":"a"}"#;
        let refused = |bundle: String| {
            let rejection = read_consents(&bundle).unwrap_err();
            (rejection.path, rejection.kind)
        };
        let rules = format!(
            r#"{{"resourceType":"Bundle","type":"collection","implicitRules":"https://example.org/r",
            "entry":[{{"resource":{consent}}}]}}"#
        );
        assert_eq!(
            refused(rules),
            ("implicitRules".to_owned(), RejectionKind::ImplicitRules)
        );
        let on_bundle = format!(
            r#"{{"resourceType":"Bundle","type":"searchset","modifierExtension":{x},
            "entry":[{{"resource":{consent}}}]}}"#
        );
        assert_eq!(
            refused(on_bundle),
            (
                "modifierExtension".to_owned(),
                RejectionKind::ModifierExtension
            )
        );
        let on_entry = format!(
            r#"{{"resourceType":"Bundle","type":"collection","entry":[
            {{"resource":{consent}}},
            {{"fullUrl":"urn:uuid:2","modifierExtension":{x},"resource":{consent}}}]}}"#
        );
        assert_eq!(
            refused(on_entry),
            (
                "entry[1].modifierExtension".to_owned(),
                RejectionKind::ModifierExtension
            )
        );
        let in_search = format!(
            r#"{{"resourceType":"Bundle","type":"searchset","entry":[
            {{"search":{{"mode":"match","modifierExtension":{x}}},"resource":{consent}}}]}}"#
        );
        assert_eq!(refused(in_search).0, "entry[0].search.modifierExtension");
        // A modifier inside the resource is left to the resource's own
        // check, which names its path within the resource.
        let inside = format!(
            r#"{{"resourceType":"Bundle","type":"collection","entry":[
            {{"resource":{{"resourceType":"Consent","modifierExtension":{x}}}}}]}}"#
        );
        assert_eq!(read_consents(&inside).unwrap().len(), 1);
    }
}

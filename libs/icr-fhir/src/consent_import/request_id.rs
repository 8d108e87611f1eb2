//! Request ids derived from a resource, so importing it twice is a replay.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The longest id R4 allows (`[A-Za-z0-9\-\.]{1,64}`).
const MAX_FHIR_ID: usize = 64;

/// The request id for importing `resource`: `fhir-consent-<id>-<16 hex>`
/// when it has a valid R4 id, else `fhir-consent-<32 hex>`, the hex being
/// the start of the SHA-256 of its canonical JSON (keys sorted, no
/// whitespace). Equal resources give equal ids however they were
/// formatted; any change to the content gives a new one. At most 94 bytes.
pub fn consent_request_id(resource: &Value) -> String {
    let canonical = canonical(resource).to_string();
    let digest = Sha256::digest(canonical.as_bytes());
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    match resource
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| is_fhir_id(id))
    {
        Some(id) => format!("fhir-consent-{id}-{}", &hex[..16]),
        None => format!("fhir-consent-{}", &hex[..32]),
    }
}

/// `value` with every object's keys in sorted order, however serde_json
/// was built (its `preserve_order` feature keeps insertion order).
fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(object) => {
            let mut keys: Vec<&String> = object.keys().collect();
            keys.sort();
            let sorted: Map<String, Value> = keys
                .into_iter()
                .map(|key| (key.clone(), canonical(&object[key])))
                .collect();
            Value::Object(sorted)
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// Whether `id` is a valid R4 resource id.
fn is_fhir_id(id: &str) -> bool {
    (1..=MAX_FHIR_ID).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn formatting_does_not_change_the_id_and_content_does() {
        let one: Value =
            serde_json::from_str(r#"{"id":"c1","status":"active","resourceType":"Consent"}"#)
                .unwrap();
        let same: Value = serde_json::from_str(
            "{ \"resourceType\": \"Consent\",\n  \"status\": \"active\", \"id\": \"c1\" }",
        )
        .unwrap();
        let changed = json!({"resourceType": "Consent", "id": "c1", "status": "inactive"});
        assert_eq!(consent_request_id(&one), consent_request_id(&same));
        assert_ne!(consent_request_id(&one), consent_request_id(&changed));
        assert!(consent_request_id(&one).starts_with("fhir-consent-c1-"));
        assert_eq!(
            consent_request_id(&one).len(),
            "fhir-consent-c1-".len() + 16
        );
    }

    #[test]
    fn a_resource_without_a_valid_id_is_named_by_its_hash_alone() {
        let id = consent_request_id(&json!({"resourceType": "Consent", "id": "a b"}));
        assert_eq!(id.len(), "fhir-consent-".len() + 32);
        assert!(id[13..].bytes().all(|b| b.is_ascii_hexdigit()));
    }
}

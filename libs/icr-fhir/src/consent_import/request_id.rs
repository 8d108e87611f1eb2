//! Request ids derived from a resource, so importing it twice is a replay.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::ConsentChange;

/// The longest id R4 allows (`[A-Za-z0-9\-\.]{1,64}`).
const MAX_FHIR_ID: usize = 64;

/// The request id for making `change` from `resource`:
/// `fhir-consent-<kind>-<id>-<16 hex>` when it has a valid R4 id, else
/// `fhir-consent-<kind>-<32 hex>`, where `<kind>` is `record`, `withdraw`,
/// `grant` or `revoke` and the hex is the start of the SHA-256 of the
/// resource's canonical JSON (keys sorted, no whitespace). Equal resources
/// give equal ids however they were formatted; any change to the content
/// (`meta.versionId` and `meta.lastUpdated` included) gives a new one.
/// At most 103 bytes.
///
/// The kind is in the id so that an id never names two different changes,
/// even if the mapping of a resource were to change between releases.
pub fn consent_request_id(resource: &Value, change: &ConsentChange) -> String {
    let canonical = canonical(resource).to_string();
    let digest = Sha256::digest(canonical.as_bytes());
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    let kind = kind_of(change);
    match resource
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| is_fhir_id(id))
    {
        Some(id) => format!("fhir-consent-{kind}-{id}-{}", &hex[..16]),
        None => format!("fhir-consent-{kind}-{}", &hex[..32]),
    }
}

/// The short name of a change's kind, for request ids.
fn kind_of(change: &ConsentChange) -> &'static str {
    match change {
        ConsentChange::RecordObjection { .. } => "record",
        ConsentChange::WithdrawObjection { .. } => "withdraw",
        ConsentChange::GrantPermissionToView { .. } => "grant",
        ConsentChange::RevokePermissionToView { .. } => "revoke",
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
    use icr_proto::pb::ObjectionScope;
    use serde_json::json;

    const RECORD: ConsentChange = ConsentChange::RecordObjection {
        scope: ObjectionScope::DirectCare,
    };

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
        let id = |resource: &Value| consent_request_id(resource, &RECORD);
        assert_eq!(id(&one), id(&same));
        assert_ne!(id(&one), id(&changed));
        assert!(id(&one).starts_with("fhir-consent-record-c1-"));
        assert_eq!(id(&one).len(), "fhir-consent-record-c1-".len() + 16);
        // A new version of the same content is a new request.
        let mut versioned = one.clone();
        versioned["meta"] = json!({"versionId": "2"});
        assert_ne!(id(&one), id(&versioned));
    }

    #[test]
    fn the_kind_of_change_is_part_of_the_id() {
        let resource = json!({"resourceType": "Consent", "id": "c1"});
        let withdraw = ConsentChange::WithdrawObjection {
            scope: ObjectionScope::DirectCare,
        };
        let revoke = ConsentChange::RevokePermissionToView {
            organisation_ods: "RKB".to_owned(),
        };
        let record = consent_request_id(&resource, &RECORD);
        let withdrawn = consent_request_id(&resource, &withdraw);
        assert_ne!(record, withdrawn);
        assert_eq!(
            record["fhir-consent-record-".len()..],
            withdrawn["fhir-consent-withdraw-".len()..]
        );
        assert!(consent_request_id(&resource, &revoke).starts_with("fhir-consent-revoke-c1-"));
    }

    #[test]
    fn a_resource_without_a_valid_id_is_named_by_its_hash_alone() {
        let id = consent_request_id(&json!({"resourceType": "Consent", "id": "a b"}), &RECORD);
        assert_eq!(id.len(), "fhir-consent-record-".len() + 32);
        assert!(id[20..].bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn the_longest_id_fits_the_documented_bound() {
        let id = consent_request_id(
            &json!({"id": "a".repeat(MAX_FHIR_ID)}),
            &ConsentChange::WithdrawObjection {
                scope: ObjectionScope::DirectCare,
            },
        );
        assert_eq!(id.len(), 103);
    }
}

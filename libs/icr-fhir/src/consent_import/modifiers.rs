//! Modifier elements, wherever they are in the resource.
//!
//! A `modifierExtension` may change the meaning of the element that holds
//! it, and `implicitRules` the meaning of the whole resource, in ways this
//! import cannot know: on a provision's actor it might turn "may view"
//! into "may not", on a contained Patient it might make the identifier
//! someone else's. Rather than list the elements that may hold one, the
//! whole JSON value is searched, so that an element added to a later
//! version of the resource is covered too.

use serde_json::Value;

use super::rejection::{Rejection, RejectionKind};

/// Rejects a `modifierExtension` or `implicitRules` found anywhere in
/// `resource`, naming its path (such as
/// `provision.actor[0].modifierExtension` or `contained[0].implicitRules`).
pub(crate) fn no_modifiers(resource: &Value) -> Result<(), Rejection> {
    no_modifiers_at(resource, "")
}

/// Rejects a modifier element found anywhere in `value`, which is at path
/// `at` of the file (such as `entry[2]` of a Bundle; empty for the top),
/// naming the path from there.
pub(crate) fn no_modifiers_at(value: &Value, at: &str) -> Result<(), Rejection> {
    match first_modifier(value, at) {
        None => Ok(()),
        Some((path, "implicitRules")) => Err(Rejection::new(
            path,
            RejectionKind::ImplicitRules,
            "the resource was written under rules this import does not know, \
             which may change what it means",
        )),
        Some((path, _)) => Err(Rejection::new(
            path,
            RejectionKind::ModifierExtension,
            "changes the meaning of the resource in a way this import cannot know",
        )),
    }
}

/// The path and name of the first modifier element under `value`, which
/// is at `at` (empty for the resource itself).
fn first_modifier(value: &Value, at: &str) -> Option<(String, &'static str)> {
    match value {
        Value::Object(object) => object.iter().find_map(|(key, child)| {
            let path = if at.is_empty() {
                key.clone()
            } else {
                format!("{at}.{key}")
            };
            match key.as_str() {
                "modifierExtension" => Some((path, "modifierExtension")),
                "implicitRules" => Some((path, "implicitRules")),
                _ => first_modifier(child, &path),
            }
        }),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(index, item)| first_modifier(item, &format!("{at}[{index}]"))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn path_of(resource: Value) -> Option<(String, RejectionKind)> {
        no_modifiers(&resource)
            .err()
            .map(|rejection| (rejection.path, rejection.kind))
    }

    #[test]
    fn a_modifier_is_found_at_any_depth_and_named_by_its_path() {
        let x = json!([{"url": "https://example.org/x"}]);
        assert_eq!(path_of(json!({"status": "active", "extension": x})), None);
        assert_eq!(
            path_of(json!({"provision": {"actor": [{}, {"modifierExtension": x}]}})),
            Some((
                "provision.actor[1].modifierExtension".to_owned(),
                RejectionKind::ModifierExtension
            ))
        );
        assert_eq!(
            path_of(json!({"contained": [{"implicitRules": "https://example.org/rules"}]})),
            Some((
                "contained[0].implicitRules".to_owned(),
                RejectionKind::ImplicitRules
            ))
        );
        // Even an empty one: R4 JSON has no empty arrays, so it is not
        // taken as absent.
        assert_eq!(
            path_of(json!({"_status": {"modifierExtension": []}})),
            Some((
                "_status.modifierExtension".to_owned(),
                RejectionKind::ModifierExtension
            ))
        );
        let at = no_modifiers_at(&json!({"search": {"modifierExtension": x}}), "entry[3]");
        assert_eq!(at.unwrap_err().path, "entry[3].search.modifierExtension");
    }
}

//! Following a `Reference` as far as the resource itself allows: to a
//! contained resource (`#id`), a conditional reference
//! (`Patient?identifier=system|value`), a logical reference
//! (`reference.identifier`), or a literal one (`Patient/123`), which names
//! a type but no identifier. Nothing is fetched from a server: a reference
//! the resource does not resolve by itself identifies no one.

use super::rejection::{Rejection, RejectionKind};
use super::resource::{ContainedResource, Identifier, Reference};

/// What a reference points at, as far as the resource says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Target {
    /// The resource type, when the reference says it.
    pub(crate) resource_type: Option<String>,
    /// The identifiers the reference gives the target.
    pub(crate) identifiers: Vec<Identifier>,
    /// The literal reference as written, if any.
    pub(crate) literal: Option<String>,
}

impl Target {
    /// The one value of the identifier in `system`: `None` when there is
    /// none; a rejection at `path` when values in it disagree.
    pub(crate) fn identifier(&self, system: &str, path: &str) -> Result<Option<&str>, Rejection> {
        let mut values = self
            .identifiers
            .iter()
            .filter(|i| i.system.as_deref() == Some(system))
            .filter_map(|i| i.value.as_deref());
        let first = values.next();
        match values.find(|value| Some(*value) != first) {
            Some(other) => Err(Rejection::new(
                path,
                RejectionKind::NotAConsent,
                format!(
                    "two different {system} identifiers ({}, {other})",
                    first.unwrap_or_default()
                ),
            )),
            None => Ok(first),
        }
    }

    /// Whether the target is of `resource_type`, or does not say.
    pub(crate) fn may_be(&self, resource_type: &str) -> bool {
        self.resource_type
            .as_deref()
            .is_none_or(|found| found == resource_type)
    }
}

/// Follows `reference` (found at `path`) within the resource.
pub(crate) fn resolve(
    reference: &Reference,
    contained: &[ContainedResource],
    path: &str,
) -> Result<Target, Rejection> {
    let mut target = Target {
        literal: reference.reference.clone(),
        ..Target::default()
    };
    if let Some(literal) = reference.reference.as_deref() {
        if let Some(local) = literal.strip_prefix('#') {
            let found = contained
                .iter()
                .find(|resource| resource.id.as_deref() == Some(local))
                .ok_or_else(|| {
                    Rejection::new(
                        format!("{path}.reference"),
                        RejectionKind::Missing,
                        format!("`{literal}` names no contained resource"),
                    )
                })?;
            target.resource_type = Some(found.resource_type.clone());
            target.identifiers.extend(found.identifier.iter().cloned());
        } else if let Some((resource_type, query)) = literal.split_once('?') {
            target.resource_type = Some(resource_type.to_owned());
            target.identifiers.push(conditional(query, path)?);
        } else {
            target.resource_type = literal_type(literal);
        }
    }
    if let Some(stated) = reference.resource_type.as_deref() {
        if target.resource_type.as_deref().is_some_and(|t| t != stated) {
            return Err(Rejection::new(
                format!("{path}.type"),
                RejectionKind::NotAConsent,
                format!(
                    "says {stated} but the reference is to a {}",
                    target.resource_type.as_deref().unwrap_or_default()
                ),
            ));
        }
        target.resource_type = Some(stated.to_owned());
    }
    target
        .identifiers
        .extend(reference.identifier.iter().cloned());
    Ok(target)
}

/// The identifier of a conditional reference's query, which must be
/// exactly `identifier=system|value`.
fn conditional(query: &str, path: &str) -> Result<Identifier, Rejection> {
    let token = query
        .strip_prefix("identifier=")
        .filter(|token| !token.contains('&'));
    let (system, value) = token
        .map(|token| token.replace("%7C", "|").replace("%7c", "|"))
        .and_then(|token| {
            let (system, value) = token.split_once('|')?;
            Some((system.to_owned(), value.to_owned()))
        })
        .ok_or_else(|| {
            Rejection::new(
                format!("{path}.reference"),
                RejectionKind::NotAConsent,
                format!("conditional reference `?{query}` is not `identifier=system|value`"),
            )
        })?;
    Ok(Identifier {
        system: Some(system),
        value: Some(value),
    })
}

/// The type named by a literal reference `[base/]Type/id[/_history/v]`.
fn literal_type(literal: &str) -> Option<String> {
    let path = literal
        .split_once("/_history/")
        .map_or(literal, |(path, _)| path);
    let mut segments = path.rsplit('/');
    let _id = segments.next()?;
    let resource_type = segments.next()?;
    resource_type
        .starts_with(|c: char| c.is_ascii_uppercase())
        .then(|| resource_type.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(literal: &str) -> Reference {
        Reference {
            reference: Some(literal.to_owned()),
            ..Reference::default()
        }
    }

    #[test]
    fn a_literal_reference_names_a_type_and_no_identifier() {
        let target = resolve(&reference("Patient/f001"), &[], "patient").unwrap();
        assert_eq!(target.resource_type.as_deref(), Some("Patient"));
        assert!(target.identifiers.is_empty());
        let versioned = "https://example.org/fhir/Organization/1/_history/2";
        let target = resolve(&reference(versioned), &[], "x").unwrap();
        assert_eq!(target.resource_type.as_deref(), Some("Organization"));
    }

    #[test]
    fn a_conditional_reference_carries_its_identifier() {
        let literal = "Patient?identifier=https://fhir.nhs.uk/Id/nhs-number%7C9434765919";
        let target = resolve(&reference(literal), &[], "patient").unwrap();
        assert_eq!(
            target
                .identifier(crate::codes::NHS_NUMBER, "patient")
                .unwrap(),
            Some("9434765919")
        );
        let error = resolve(&reference("Patient?name=Smith"), &[], "patient").unwrap_err();
        assert_eq!(error.path, "patient.reference");
    }

    #[test]
    fn a_local_reference_must_name_a_contained_resource() {
        let error = resolve(&reference("#p1"), &[], "performer[0]").unwrap_err();
        assert_eq!(
            (error.path.as_str(), error.kind),
            ("performer[0].reference", RejectionKind::Missing)
        );
    }

    #[test]
    fn a_stated_type_must_agree_with_the_reference() {
        let mut wrong = reference("Patient/1");
        wrong.resource_type = Some("RelatedPerson".to_owned());
        let error = resolve(&wrong, &[], "performer[0]").unwrap_err();
        assert_eq!(error.path, "performer[0].type");
    }
}

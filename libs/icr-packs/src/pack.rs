//! The `pack.toml` format: a header, then regions, organisations and roles,
//! each entry becoming the policy event that records it.

use anyhow::Context;
use icr_events::codes::{consent_model_from_name, purpose_from_name, section_from_name};
use icr_proto::pb::event_payload::Kind;
use icr_proto::pb::{EventPayload, OrganisationJoined, RegionPolicySet, RolePolicySet};
use serde::Deserialize;

/// The pack `text` (named `name` in errors) as policy events, in file
/// order: regions, organisations, roles.
pub(crate) fn events(text: &str, name: &str) -> anyhow::Result<Vec<EventPayload>> {
    let pack: Pack = toml::from_str(text).with_context(|| format!("parsing policy pack {name}"))?;
    pack.into_events()
        .with_context(|| format!("policy pack {name}"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Pack {
    #[allow(dead_code, reason = "documents the pack; not an event")]
    pack: PackHeader,
    #[serde(default)]
    regions: Vec<PackRegion>,
    #[serde(default)]
    organisations: Vec<PackOrganisation>,
    #[serde(default)]
    roles: Vec<PackRole>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PackHeader {
    #[allow(dead_code, reason = "documents the pack")]
    name: String,
    #[allow(dead_code, reason = "documents the pack")]
    description: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PackRegion {
    code: String,
    name: String,
    consent_model: String,
    minimum_age: u32,
    #[serde(default)]
    viewing_regions: Vec<String>,
    #[serde(default)]
    break_glass: bool,
    #[serde(default)]
    self_claimed_relationship: bool,
    #[serde(default)]
    review_within_days: u32,
    #[serde(default)]
    secondary_use_pseudonymised: bool,
    #[serde(default)]
    children_social_care_from: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PackOrganisation {
    ods: String,
    name: String,
    region: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PackRole {
    code: String,
    description: String,
    #[serde(default)]
    clinical: bool,
    sections: Vec<String>,
    purposes: Vec<String>,
}

fn each<T>(
    names: &[String],
    what: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> anyhow::Result<Vec<i32>>
where
    T: Into<i32>,
{
    names
        .iter()
        .map(|n| {
            parse(n)
                .map(Into::into)
                .with_context(|| format!("unknown {what} '{n}'"))
        })
        .collect()
}

impl Pack {
    fn into_events(self) -> anyhow::Result<Vec<EventPayload>> {
        let mut events = Vec::new();
        for r in self.regions {
            let model = consent_model_from_name(&r.consent_model).with_context(|| {
                format!(
                    "region {}: unknown consent model '{}'",
                    r.code, r.consent_model
                )
            })?;
            let event = with_region_settings!(RegionPolicySet, r, {
                region: r.code,
                name: r.name,
                consent_model: model.into(),
            });
            events.push(Kind::RegionPolicySet(event));
        }
        for o in self.organisations {
            events.push(Kind::OrganisationJoined(OrganisationJoined {
                ods_code: o.ods,
                name: o.name,
                region: o.region,
            }));
        }
        for r in self.roles {
            let sections = each(&r.sections, "section", section_from_name)
                .with_context(|| format!("role {}", r.code))?;
            let purposes = each(&r.purposes, "purpose", purpose_from_name)
                .with_context(|| format!("role {}", r.code))?;
            events.push(Kind::RolePolicySet(RolePolicySet {
                role_code: r.code,
                description: r.description,
                clinical: r.clinical,
                sections,
                purposes,
            }));
        }
        Ok(events
            .into_iter()
            .map(|kind| EventPayload { kind: Some(kind) })
            .collect())
    }
}

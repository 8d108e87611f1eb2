//! The casbin model, the shared deny rules and the policy pack, from a
//! `policies/` directory or, by default, as built into the binary.

use std::path::Path;

use anyhow::Context;
use icr_events::codes::{consent_model_from_name, purpose_from_name, section_from_name};
use icr_proto::pb::event_payload::Kind;
use icr_proto::pb::{EventPayload, OrganisationJoined, RegionPolicySet, RolePolicySet};
use serde::Deserialize;

/// The default pack, loaded into an empty log on first start.
pub const DEFAULT_PACK: &str = "coventry-warwickshire";

const MODEL: &str = include_str!("../../../policies/model.conf");
const RULES: &str = include_str!("../../../policies/rules.csv");
/// The packs built into the binary, by name; the first is the default.
const BUILT_IN_PACKS: [(&str, &str); 4] = [
    (
        DEFAULT_PACK,
        include_str!("../../../policies/coventry-warwickshire/pack.toml"),
    ),
    (
        "bath-north-east-somerset",
        include_str!("../../../policies/bath-north-east-somerset/pack.toml"),
    ),
    ("bsw", include_str!("../../../policies/bsw/pack.toml")),
    (
        "my-care-record",
        include_str!("../../../policies/my-care-record/pack.toml"),
    ),
];

/// The texts the decision engine is built from.
#[derive(Debug, Clone)]
pub struct PolicyFiles {
    /// casbin model (`model.conf`).
    pub model: String,
    /// Shared deny rules (`rules.csv`).
    pub rules: String,
    /// Name of the policy pack.
    pub pack_name: String,
    /// The pack's `pack.toml`.
    pub pack: String,
}

impl PolicyFiles {
    /// The files built into the binary, with the default pack.
    pub fn built_in() -> Self {
        let (name, pack) = BUILT_IN_PACKS[0];
        Self::with_pack(name, pack)
    }

    /// The files built into the binary, with the named pack, if built in.
    pub fn built_in_pack(name: &str) -> Option<Self> {
        let (name, pack) = BUILT_IN_PACKS.into_iter().find(|(n, _)| *n == name)?;
        Some(Self::with_pack(name, pack))
    }

    /// Names of the packs built into the binary.
    pub fn built_in_pack_names() -> impl Iterator<Item = &'static str> {
        BUILT_IN_PACKS.into_iter().map(|(name, _)| name)
    }

    fn with_pack(name: &str, pack: &str) -> Self {
        Self {
            model: MODEL.to_owned(),
            rules: RULES.to_owned(),
            pack_name: name.to_owned(),
            pack: pack.to_owned(),
        }
    }

    /// Reads `model.conf`, `rules.csv` and `<pack>/pack.toml` from `dir`.
    pub fn from_dir(dir: &Path, pack: &str) -> anyhow::Result<Self> {
        let read = |p: &Path| {
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))
        };
        Ok(Self {
            model: read(&dir.join("model.conf"))?,
            rules: read(&dir.join("rules.csv"))?,
            pack_name: pack.to_owned(),
            pack: read(&dir.join(pack).join("pack.toml"))?,
        })
    }

    /// The pack as policy events, in file order: regions, organisations, roles.
    pub fn pack_events(&self) -> anyhow::Result<Vec<EventPayload>> {
        let pack: Pack = toml::from_str(&self.pack)
            .with_context(|| format!("parsing policy pack {}", self.pack_name))?;
        pack.into_events()
            .with_context(|| format!("policy pack {}", self.pack_name))
    }

    /// Checks everything the engine will be built from, before anything is
    /// served: each pack entry as a policy RPC would check it (naming the
    /// field), then the model, the rules and the pack's policy built into an
    /// engine together, which checks the model's shape and the rules' lines
    /// and evaluates probe requests.
    pub async fn check(&self) -> anyhow::Result<()> {
        let mut policy = icr_projections::PolicyState::default();
        for (i, event) in self.pack_events()?.iter().enumerate() {
            crate::api::validate_policy_event(event)
                .with_context(|| format!("policy pack {} entry {i}", self.pack_name))?;
            policy.apply(u64::try_from(i)? + 1, event);
        }
        icr_decision::Engine::build(&self.model, &self.rules, &policy.policy_set())
            .await
            .with_context(|| {
                format!("policy model, rules or pack {} are invalid", self.pack_name)
            })?;
        Ok(())
    }
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
            events.push(Kind::RegionPolicySet(RegionPolicySet {
                region: r.code,
                name: r.name,
                consent_model: model.into(),
                minimum_age: r.minimum_age,
                viewing_regions: r.viewing_regions,
                break_glass: r.break_glass,
                self_claimed_relationship: r.self_claimed_relationship,
                review_within_days: r.review_within_days,
                secondary_use_pseudonymised: r.secondary_use_pseudonymised,
                children_social_care_from: r.children_social_care_from,
            }));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_pack_parses_and_validates() {
        for name in PolicyFiles::built_in_pack_names() {
            let files = PolicyFiles::built_in_pack(name).expect("built in");
            let events = files
                .pack_events()
                .unwrap_or_else(|e| panic!("{name}: {e:#}"));
            assert!(!events.is_empty(), "{name}");
            for event in &events {
                crate::api::validate_policy_event(event).unwrap_or_else(|e| panic!("{name}: {e}"));
            }
        }
    }

    #[test]
    fn built_in_pack_parses_into_policy_events() {
        let events = PolicyFiles::built_in().pack_events().expect("pack");
        assert!(
            events
                .iter()
                .any(|e| matches!(&e.kind, Some(Kind::RolePolicySet(r)) if r.role_code == "R8000"))
        );
        assert!(
            events.iter().any(
                |e| matches!(&e.kind, Some(Kind::OrganisationJoined(o)) if o.ods_code == "RKB")
            )
        );
    }

    #[tokio::test]
    async fn every_built_in_pack_builds_an_engine_with_the_model_and_rules() {
        for name in PolicyFiles::built_in_pack_names() {
            let files = PolicyFiles::built_in_pack(name).expect("built in");
            files
                .check()
                .await
                .unwrap_or_else(|e| panic!("{name}: {e:#}"));
        }
    }

    #[tokio::test]
    async fn a_model_calling_a_pattern_function_is_refused_at_start() {
        let mut files = PolicyFiles::built_in();
        files.model = files
            .model
            .replace("r.section == p.section", "regexMatch(r.section, p.section)");
        let err = files.check().await.expect_err("refused");
        assert!(format!("{err:#}").contains("regexMatch"), "{err:#}");
    }

    #[test]
    fn unknown_section_names_are_refused() {
        let mut files = PolicyFiles::built_in();
        files.pack = files.pack.replacen("\"medications\"", "\"medicine\"", 1);
        let err = files.pack_events().unwrap_err();
        assert!(
            format!("{err:#}").contains("unknown section 'medicine'"),
            "{err:#}"
        );
    }
}

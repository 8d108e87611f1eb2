//! Policy packs: the casbin model, the shared deny rules and a region's
//! pack, from a `policies/` directory or as built in, read into the policy
//! events they stand for and checked as the service checks them.
//!
//! The service loads a pack into an empty log at first start, `consent-cli
//! policy apply` brings a running service's policy to a pack, `policy test`
//! and the scenarios start services with one, and the data generator builds
//! its logs on one: all of them read it here, so a pack one accepts is a
//! pack the others accept.
//!
//! # Layout
//! - [`PolicyFiles`]: the texts (built in, or read from a directory), the
//!   pack as events ([`PolicyFiles::pack_events`]) and the check made
//!   before anything is served ([`PolicyFiles::check`]).
//! - `pack`: the `pack.toml` format.
//! - [`validate_policy_event`]: a policy event checked the way the decision
//!   engine will read it, for pack entries and the policy RPCs alike; its
//!   bounds are in [`limits`].
//! - [`requests`]: a policy event as the policy RPC request that records it.
//!
//! This crate decides nothing and touches no storage: it says what a pack
//! holds and whether the engine can be built from it.
#![forbid(unsafe_code)]

/// `$ty { … }` with a region policy's settings (everything but its code,
/// name and consent model) moved from `$from`, and the `$rest` fields: the
/// one list of those settings for every type that carries them (the pack's
/// region, the `RegionPolicySet` event, the `SetRegionPolicy` request).
macro_rules! with_region_settings {
    ($ty:ident, $from:ident, { $($rest:tt)* }) => {
        $ty {
            minimum_age: $from.minimum_age,
            viewing_regions: $from.viewing_regions,
            break_glass: $from.break_glass,
            self_claimed_relationship: $from.self_claimed_relationship,
            review_within_days: $from.review_within_days,
            secondary_use_pseudonymised: $from.secondary_use_pseudonymised,
            children_social_care_from: $from.children_social_care_from,
            $($rest)*
        }
    };
}

pub mod limits;
mod pack;
pub mod requests;
mod validate;

use std::path::Path;

use anyhow::Context;
use icr_proto::pb::EventPayload;

pub use validate::validate_policy_event;

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

    /// Writes the files into `dir` as [`PolicyFiles::from_dir`] reads them
    /// (`model.conf`, `rules.csv`, `<pack>/pack.toml`), for a service
    /// started with `--policies-dir`.
    pub fn write_to_dir(&self, dir: &Path) -> anyhow::Result<()> {
        let write = |p: &Path, text: &str| {
            std::fs::write(p, text).with_context(|| format!("writing {}", p.display()))
        };
        let pack_dir = dir.join(&self.pack_name);
        std::fs::create_dir_all(&pack_dir)
            .with_context(|| format!("creating {}", pack_dir.display()))?;
        write(&dir.join("model.conf"), &self.model)?;
        write(&dir.join("rules.csv"), &self.rules)?;
        write(&pack_dir.join("pack.toml"), &self.pack)
    }

    /// The pack as policy events, in file order: regions, organisations, roles.
    pub fn pack_events(&self) -> anyhow::Result<Vec<EventPayload>> {
        pack::events(&self.pack, &self.pack_name)
    }

    /// Checks everything the engine will be built from, before anything is
    /// served: each pack entry as a policy RPC would check it (naming the
    /// field), then the model, the rules and the pack's policy built into an
    /// engine together, which checks the model's shape and the rules' lines
    /// and evaluates probe requests.
    pub async fn check(&self) -> anyhow::Result<()> {
        let mut policy = icr_projections::PolicyState::default();
        for (i, event) in self.pack_events()?.iter().enumerate() {
            validate_policy_event(event)
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

#[cfg(test)]
mod tests;

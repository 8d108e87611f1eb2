//! The casbin model, the shared deny rules and the policy pack: read,
//! turned into policy events and checked by `icr-packs`, which the CLI and
//! the data generator use too.

pub use icr_packs::{DEFAULT_PACK, PolicyFiles};

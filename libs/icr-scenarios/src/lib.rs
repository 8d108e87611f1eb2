//! Policy scenarios: "given these events, when this request, then this
//! decision", run through the real gRPC API.
//!
//! Policy authors write scenarios in TOML next to their pack
//! (`policies/<pack>/scenarios/*.toml`, format in `policies/SCENARIOS.md`);
//! `consent-cli policy test <PACK_DIR>` and the integration tests run them.
//! Each scenario gets a fresh service over its own empty log, loaded with
//! the given [`PolicyFiles`], so scenarios cannot leak into one another and
//! what passes here is what the service does. The caller says how a service
//! is started ([`StartService`]): the CLI starts the `consent-service`
//! binary, the integration tests start it in process; this crate does not
//! link the service.
//!
//! ```no_run
//! # async fn example(services: impl icr_scenarios::StartService) -> Result<(), icr_scenarios::LoadError> {
//! let scenarios = icr_scenarios::load("policies/bsw/scenarios")?;
//! let files = icr_scenarios::PolicyFiles::built_in_pack("bsw").expect("built in");
//! let report = icr_scenarios::run(services, &files, &scenarios).await;
//! println!("{report}");
//! assert_eq!(report.failures().count(), 0);
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//! - [`format`](mod@format): scenario files, [`load`] and its [`LoadError`].
//! - `given`: the `given` steps, one RPC each; `apply`: sending them.
//! - `dates`: `today-18y`, `now+2s`, `1500ms`; `names`: enum values and gRPC
//!   codes by their short names.
//! - `run`: a service per scenario, the steps, the `when` request, the
//!   comparison with `then`; [`service`](mod@service): what starts and
//!   stops that service; `recorded`: finding the decision in the
//!   patient's access report; [`report`](mod@report): the results.
//!
//! This crate holds no decision rules: a scenario only states what the
//! service must answer. It must not reach into the service's storage.
#![forbid(unsafe_code)]

mod apply;
mod dates;
pub mod format;
mod given;
pub mod names;
mod recorded;
pub mod report;
mod run;
pub mod service;

pub use format::{LoadError, Promise, Scenario, ScenarioFile, load};
pub use icr_packs::PolicyFiles;
pub use report::{Report, ScenarioResult};
pub use run::run;
pub use service::{RunningService, StartService};

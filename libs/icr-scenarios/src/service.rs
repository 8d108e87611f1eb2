//! What a scenario runs against: a fresh service, started for it alone
//! with the pack under test, and stopped when it is done.
//!
//! The runner does not start services itself, so that it need not link
//! one: the integration tests start the service in process, and
//! `consent-cli policy test` starts the `consent-service` binary.

use std::future::Future;

use icr_packs::PolicyFiles;
use tonic::transport::Channel;

/// Starts a fresh service for each scenario: its own empty log, loaded with
/// the given policy files, on an address no other scenario uses. Starts may
/// run in parallel (up to the runner's bound), so each must be independent.
pub trait StartService: Send + Sync + 'static {
    /// A running service.
    type Running: RunningService;

    /// Starts a service with `files`; calls on its channel may be made at
    /// once (they wait for it to finish loading the pack). An error says
    /// why it could not start, in words for the report.
    fn start(
        &self,
        files: &PolicyFiles,
    ) -> impl Future<Output = Result<Self::Running, String>> + Send;
}

/// A service started for one scenario.
pub trait RunningService: Send + 'static {
    /// A channel to it.
    fn channel(&self) -> Channel;

    /// Stops it and waits until it is gone, with its directory; an error
    /// says how it failed while it ran. Dropping it without a stop must
    /// stop it too (a scenario that panicked leaves nothing running).
    fn stop(self) -> impl Future<Output = Result<(), String>> + Send;
}

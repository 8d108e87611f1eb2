//! `audit`: the decision trail and what auditors and privacy officers do
//! with it: replay it, report one patient's accesses, review exceptional
//! accesses, re-ask a question as at a past point, export it as FHIR, list
//! the signed checkpoints and the log heads, and make the key that signs
//! them.

mod checkpoints;
mod export;
mod heads;
mod history;
mod keygen;
mod report;
mod review;
mod trail;

use anyhow::Result;
use clap::Subcommand;
use tonic::transport::Channel;

use crate::caller::Caller;
use crate::output::Output;

pub(crate) use checkpoints::list_checkpoints;
pub(crate) use keygen::{KeygenArgs, read_public_key};
pub(crate) use trail::{DecisionFilter, read_decisions};

/// Subcommands of `audit`.
#[derive(Subcommand, Debug, Clone)]
pub(crate) enum AuditCommand {
    /// Replay the decision trail: every access decision, allow or deny, in
    /// the order recorded.
    Trail(trail::TrailArgs),
    /// One patient's access report: who viewed which part of their record,
    /// and who was refused, when, from which organisation, why and how.
    Report(report::ReportArgs),
    /// Exceptional accesses (break glass, self-claimed relationships)
    /// awaiting a privacy officer's review.
    ReviewQueue(review::QueueArgs),
    /// Record a privacy officer's review of one exceptional access.
    Review(review::ReviewArgs),
    /// Would this request have been allowed at a past time or log position,
    /// and why? Nothing is recorded: it is not an access.
    At(history::AtArgs),
    /// Re-evaluate a recorded decision with today's engine and say whether
    /// it agrees; exits 1 when it does not.
    Recheck(history::RecheckArgs),
    /// The signed checkpoints of the hash chains over events and decisions.
    Checkpoints(checkpoints::CheckpointsArgs),
    /// How far the event log and the decision trail are durable now, with
    /// the chain hash at each head.
    Heads(heads::HeadsArgs),
    /// Export the decision trail as FHIR R4 AuditEvents.
    Export(export::ExportArgs),
    /// Make the ed25519 key pair that signs checkpoints (no service needed).
    Keygen(KeygenArgs),
}

/// Runs `audit keygen`, which needs no service.
pub(crate) fn run_keygen(args: &KeygenArgs, output: Output) -> Result<()> {
    keygen::run(args, output)
}

/// Runs one `audit` subcommand against the service and prints its result.
pub(crate) async fn run(
    channel: Channel,
    caller: &Caller,
    command: &AuditCommand,
    output: Output,
    endpoint: &str,
) -> Result<()> {
    match command {
        AuditCommand::Trail(args) => trail::run(channel, caller, args, output).await,
        AuditCommand::Report(args) => report::run(channel, caller, args, output).await,
        AuditCommand::ReviewQueue(args) => review::run_queue(channel, caller, args, output).await,
        AuditCommand::Review(args) => review::run_review(channel, caller, args, output).await,
        AuditCommand::At(args) => history::run_at(channel, caller, args, output).await,
        AuditCommand::Recheck(args) => history::run_recheck(channel, caller, args, output).await,
        AuditCommand::Checkpoints(args) => checkpoints::run(channel, caller, args, output).await,
        AuditCommand::Heads(_) => heads::run(channel, caller, output).await,
        AuditCommand::Export(args) => export::run(channel, caller, args, endpoint).await,
        AuditCommand::Keygen(args) => keygen::run(args, output),
    }
}

//! `consent-cli`: the command line for the ICR consent service.
//!
//! It is for the people who run and support the service: to ask for an
//! access decision as a record viewer would, to enter a patient's objection
//! or attorney on their behalf, to feed care context by hand, to administer
//! policy, and to read the audit log. It holds no state and no rules of its
//! own: every command is one gRPC call (or one stream) and the service
//! decides. Output is an aligned table, or JSON lines with `--json`.
//!
//! # Layout
//!
//! - `main.rs`: the command tree, global options and the connection.
//! - One module per command group, each defining its arguments, a function
//!   per RPC that takes a [`Channel`] and returns the response, and a `run`
//!   that prints it: [`authorize`], [`consent`] (with `attorney`,
//!   `permission` and `status`), [`care`], [`policy`] (with
//!   [`policy_apply`], a pack on disk made current), [`events`],
//!   [`audit`] (trail, report, review queue and reviews, point-in-time
//!   decisions, checkpoints, FHIR export, keygen) and [`verify`].
//! - Some commands need no service: [`policy_test`] runs a pack's scenarios
//!   against `consent-service` processes it starts, `audit keygen` writes
//!   a key pair, `verify --data-dir` reads a stopped service's directory,
//!   and [`rpcs`] lists which command makes each RPC;
//!   `consent import-fhir --dry-run` only maps its file.
//! - Shared pieces: [`caller`] (who is calling, sent on every request),
//!   [`write`](mod@write) (request ids, expected versions, receipts), [`names`] (enum
//!   values as short names), [`dates`], [`output`] (tables and JSON lines),
//!   [`replay`] (time windows, caught-up markers and follow mode),
//!   [`progress`] (the replay's progress line on stderr), [`codes`] (NHS
//!   numbers and ODS codes read into the form the log holds) and
//!   [`failure`] (errors phrased as what to do next).
//!
//! A command flows: parse → connect → build the request (with
//! `x-calling-system` and `user_id`) → call → print, or explain the failure
//! on stderr and exit 1.
#![forbid(unsafe_code)]

mod audit;
mod authorize;
mod caller;
mod care;
mod codes;
mod consent;
mod dates;
mod events;
mod failure;
mod names;
mod output;
mod policy;
mod policy_apply;
mod policy_test;
mod progress;
mod replay;
mod rpcs;
mod verify;
mod write;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use tonic::transport::{Channel, Endpoint};

use crate::caller::Caller;
use crate::output::Output;

/// How long to wait for the service to accept a connection before saying it
/// cannot be reached.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Command line of the ICR consent service.
#[derive(Parser, Debug)]
#[command(name = "consent-cli", version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    global: GlobalOptions,
    #[command(subcommand)]
    command: Command,
}

/// Options every command accepts, before or after the subcommand.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Global options")]
struct GlobalOptions {
    /// Address of the consent service.
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "ICR_CONSENT_ENDPOINT",
        default_value = "http://127.0.0.1:50051"
    )]
    endpoint: String,
    /// CA certificate (PEM) that signed the service's certificate; with an
    /// `https://` endpoint.
    #[arg(long, global = true, value_name = "PEM", env = "ICR_CLI_TLS_CA")]
    tls_ca: Option<PathBuf>,
    /// This caller's client certificate (PEM), for a service running mutual
    /// TLS: its identity decides what the CLI may call.
    #[arg(
        long,
        global = true,
        value_name = "PEM",
        env = "ICR_CLI_TLS_CERT",
        requires = "tls_key"
    )]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(
        long,
        global = true,
        value_name = "PEM",
        env = "ICR_CLI_TLS_KEY",
        requires = "tls_cert"
    )]
    tls_key: Option<PathBuf>,
    /// Print one JSON object per line instead of tables, for scripts.
    #[arg(long, global = true)]
    json: bool,
    /// Identity of this system, sent as `x-calling-system` metadata on every
    /// request and recorded with every event by a plain-text (development)
    /// service; under mutual TLS the certificate's identity is recorded.
    #[arg(
        long,
        global = true,
        value_name = "NAME",
        env = "ICR_CALLING_SYSTEM",
        default_value = "consent-cli"
    )]
    calling_system: String,
    /// The person making the request, sent as its `user_id`; defaults to
    /// $USER.
    #[arg(
        long,
        global = true,
        value_name = "ID",
        env = "ICR_USER",
        default_value_t = default_user()
    )]
    user: String,
}

/// The command groups.
#[derive(Subcommand, Debug)]
enum Command {
    /// Ask whether a viewer may see sections of a patient's record.
    Authorize(authorize::AuthorizeArgs),
    /// A patient's objections, attorneys and permissions to view.
    #[command(subcommand)]
    Consent(consent::ConsentCommand),
    /// Care context: GP registrations and care relationships.
    #[command(subcommand)]
    Care(care::CareCommand),
    /// Policy administration: organisations, job roles and regions.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Read the event log in order from a position: every change to
    /// consent, care context and policy, with who made it.
    Events(events::EventsArgs),
    /// The decision trail, access reports, reviews of exceptional access,
    /// point-in-time decisions, checkpoints and FHIR export.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Check that the log has not been altered: recompute both hash chains
    /// and check every signed checkpoint. Exits 1 naming the first position
    /// that does not verify.
    Verify(verify::VerifyArgs),
    /// List every RPC of the service and the command that calls it.
    Rpcs,
    /// Print a shell completion script, e.g.
    /// `consent-cli completions bash > /etc/bash_completion.d/consent-cli`.
    Completions {
        /// The shell: bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

/// `$USER`, or `cli` where the shell does not set it.
fn default_user() -> String {
    std::env::var("USER")
        .ok()
        .filter(|user| !user.is_empty())
        .unwrap_or_else(|| "cli".to_owned())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        // The reader (`| head`) has all it wanted; that is not a failure.
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the chosen command, connecting first if it needs the service.
async fn run(cli: Cli) -> Result<()> {
    let output = Output::new(cli.global.json);
    // Commands that need no service run without connecting, so they work
    // where none is running: `policy test` starts its own services,
    // keygen writes files, offline verify reads a directory.
    match &cli.command {
        Command::Completions { shell } => {
            use clap::CommandFactory;
            use std::io::Write;
            // Into memory first: clap_complete panics when its writer
            // fails, and a reader that goes away (`| head`) is no error.
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "consent-cli", &mut script);
            std::io::stdout().write_all(&script)?;
            return Ok(());
        }
        Command::Rpcs => return rpcs::run(output),
        Command::Policy(policy::PolicyCommand::Test(args)) => {
            return policy_test::run(args, output).await;
        }
        Command::Audit(audit::AuditCommand::Keygen(args)) => {
            return audit::run_keygen(args, output);
        }
        Command::Consent(consent::ConsentCommand::ImportFhir(args)) if args.dry_run => {
            return consent::import_fhir::run_offline(args, output);
        }
        Command::Verify(args) => {
            if let Some(dir) = &args.data_dir {
                return verify::run_offline(args, dir, output);
            }
        }
        _ => {}
    }
    let caller = Caller::new(&cli.global.calling_system, &cli.global.user)?;
    let endpoint = &cli.global.endpoint;
    let channel = connect(endpoint, &cli.global).await?;
    match &cli.command {
        Command::Authorize(args) => authorize::run(channel, &caller, args, output).await,
        Command::Consent(command) => consent::run(channel, &caller, command, output).await,
        Command::Care(command) => care::run(channel, &caller, command, output).await,
        Command::Policy(command) => {
            policy::run(channel, &caller, command, output, &cli.global).await
        }
        Command::Events(args) => events::run(channel, &caller, args, output).await,
        Command::Audit(command) => audit::run(channel, &caller, command, output, endpoint).await,
        Command::Verify(args) => verify::run_server(channel, &caller, args, output).await,
        // Printed before connecting.
        Command::Completions { .. } | Command::Rpcs => Ok(()),
    }
}

/// Opens a connection now, so an absent service is reported as such rather
/// than as the failure of whichever call came first. An `https://`
/// endpoint speaks TLS, presenting the client certificate when given.
async fn connect(endpoint: &str, global: &GlobalOptions) -> Result<Channel> {
    let mut channel = Endpoint::from_shared(endpoint.to_owned())
        .with_context(|| format!("--endpoint `{endpoint}` is not a valid URL"))?;
    if endpoint.starts_with("https://") {
        let read = |path: &PathBuf, flag: &str| {
            std::fs::read(path).with_context(|| format!("reading {flag} {}", path.display()))
        };
        let mut tls = tonic::transport::ClientTlsConfig::new();
        if let Some(ca) = &global.tls_ca {
            tls = tls.ca_certificate(tonic::transport::Certificate::from_pem(read(
                ca, "--tls-ca",
            )?));
        }
        if let (Some(cert), Some(key)) = (&global.tls_cert, &global.tls_key) {
            let (cert, key) = (read(cert, "--tls-cert")?, read(key, "--tls-key")?);
            tls = tls.identity(tonic::transport::Identity::from_pem(cert, key));
        }
        channel = channel
            .tls_config(tls)
            .context("TLS settings (--tls-ca, --tls-cert, --tls-key)")?;
    } else if global.tls_ca.is_some() || global.tls_cert.is_some() {
        anyhow::bail!("--tls-ca and --tls-cert need an https:// --endpoint");
    }
    let tls_ca = global.tls_ca.is_some();
    let channel = channel
        .connect_timeout(CONNECT_TIMEOUT)
        .connect()
        .await
        .map_err(|error| failure::unreachable(endpoint, tls_ca, &error))?;
    spoken_to(channel.clone(), endpoint, global.tls_cert.is_some()).await?;
    Ok(channel)
}

/// Makes one health check, so that a connection which opens but cannot
/// carry a call (a plain-text client against a TLS port: TCP connects,
/// the first request fails) is reported as that, not as a bare "transport
/// error" from whichever call came first. Any answer the service itself
/// gives, a refusal included, means the connection works.
async fn spoken_to(channel: Channel, endpoint: &str, client_cert: bool) -> Result<()> {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_client::HealthClient;
    let mut health = HealthClient::new(channel);
    let check = health.check(HealthCheckRequest::default());
    match tokio::time::timeout(CONNECT_TIMEOUT, check).await {
        Err(_) => Err(failure::silent(endpoint)),
        Ok(Err(status)) if failure::is_transport(&status) => {
            Err(failure::not_spoken_to(endpoint, client_cert, &status))
        }
        Ok(_) => Ok(()),
    }
}

/// Whether writing the output failed because its reader went away.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<std::io::Error>()
        .is_some_and(|error| error.kind() == std::io::ErrorKind::BrokenPipe)
}

#[cfg(test)]
#[path = "main_tests.rs"]
mod tests;

#[cfg(test)]
mod readme_tests;
#[cfg(test)]
mod shell_words;

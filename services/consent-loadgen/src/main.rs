//! `consent-loadgen`: drives a running consent service (or the no-op
//! server) and prints throughput and latency; `seed` registers synthetic
//! patients; `noop-server` serves the transport floor; `jetstream` measures
//! the NATS JetStream peer of the durable-append comparison.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use consent_loadgen::driver::{DEFAULT_NOOP_RESPONSE_BYTES, LoadConfig};
use consent_loadgen::jetstream::{self, DEFAULT_STREAM, DEFAULT_SUBJECT, JetStreamConfig};
use consent_loadgen::noop::{self, Sockets};
use consent_loadgen::{Report, Target, run, seed};
use icr_proto::pb::Requester;

/// mimalloc, as the service uses: the load generator's own allocation costs stay low.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Load generator for the ICR consent service.
///
/// Without a subcommand, sends `--target` requests to `--endpoint` and
/// prints ok/s, errors by gRPC code and latency percentiles. Exits 2 when
/// any request failed or none succeeded.
#[derive(Debug, Parser)]
#[command(version, about, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    load: LoadArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Register synthetic patients at GP practice M86003 and admit them to
    /// RKB (inpatient episode); safe to repeat.
    Seed(SeedArgs),
    /// Serve the no-op gRPC method (the transport floor) until Ctrl-C.
    NoopServer(NoopArgs),
    /// Publish objection events to a NATS JetStream stream with file
    /// storage, each publisher awaiting its acknowledgement before the next
    /// (the durable-append peer); prints the same report as a load run.
    #[command(name = "jetstream")]
    JetStream(JetStreamArgs),
}

#[derive(Debug, Args)]
struct LoadArgs {
    /// The service, or the no-op server for `--target noop`.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    endpoint: String,
    /// What to send.
    #[arg(long, value_enum, default_value = "authorize")]
    target: Target,
    #[command(flatten)]
    shape: Shape,
    /// Requests per second on a fixed schedule (open loop); latency counts
    /// from each request's scheduled time.
    #[arg(long)]
    rate: Option<f64>,
    /// Open loop: most requests in flight before sending waits.
    #[arg(long, default_value_t = 1024)]
    max_in_flight: usize,
    /// National RBAC job-role code of the requester.
    #[arg(long, default_value = "R8000")]
    role: String,
    /// ODS code of the requester's organisation.
    #[arg(long, default_value = "RKB")]
    org: String,
    /// Requester user id (also the user entering objections).
    #[arg(long, default_value = "consent-loadgen")]
    user: String,
    /// Bytes in each no-op response (about an AuthorizeResponse).
    #[arg(long, default_value_t = DEFAULT_NOOP_RESPONSE_BYTES)]
    noop_response_bytes: u32,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// The shape of a closed-loop run, against the service or JetStream alike.
#[derive(Debug, Args)]
struct Shape {
    /// Separate connections (HTTP/2 or NATS); clients are spread over them.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Clients in flight, each waiting for its answer or acknowledgement
    /// before sending again (closed loop).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// How long to measure, e.g. 10s, 500ms, 2m.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// How long to send before measuring.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    warmup: Duration,
    /// Patients to go round (synthetic NHS numbers; for the service, already
    /// registered).
    #[arg(long, default_value_t = 1000)]
    patients: u32,
    /// First synthetic patient.
    #[arg(long, default_value_t = 0)]
    patient_offset: u32,
    /// Longest wait for one answer; later counts as ClientTimeout.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    timeout: Duration,
}

#[derive(Debug, Args)]
struct SeedArgs {
    /// The service.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    endpoint: String,
    /// How many patients.
    #[arg(long)]
    patients: u32,
    /// First synthetic patient.
    #[arg(long, default_value_t = 0)]
    offset: u32,
    /// Patients in progress at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
}

#[derive(Debug, Args)]
struct NoopArgs {
    /// Address to serve on.
    #[arg(long, default_value = "127.0.0.1:50052")]
    listen: SocketAddr,
    /// Set TCP_NODELAY on accepted connections. Off by default, exactly as
    /// the consent service serves (tonic ignores the setting for a listener
    /// it is handed).
    #[arg(long)]
    tcp_nodelay: bool,
}

#[derive(Debug, Args)]
struct JetStreamArgs {
    /// The NATS server (JetStream enabled).
    #[arg(long, default_value = "nats://127.0.0.1:4222")]
    server: String,
    /// Stream to create with file storage; one of this name is deleted first.
    #[arg(long, default_value = DEFAULT_STREAM)]
    stream: String,
    /// The one subject the stream holds and every event is published to.
    #[arg(long, default_value = DEFAULT_SUBJECT)]
    subject: String,
    #[command(flatten)]
    shape: Shape,
    /// Print one event as published (hex) and exit without connecting:
    /// the payload other peers append, at the same size.
    #[arg(long)]
    print_event: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Parses `10s`, `500ms`, `2m`, `1.5s` or a bare number of seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 10s or 500ms"))?;
    let seconds = match unit {
        "" | "s" => number,
        "ms" => number / 1000.0,
        "m" => number * 60.0,
        _ => return Err(format!("unknown unit {unit:?}: use ms, s or m")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Seed(args)) => {
            let seeded = seed(&args.endpoint, args.offset, args.patients, args.concurrency).await?;
            println!(
                "seeded {} patients: {} events appended, {} writes already applied",
                seeded.patients, seeded.appended, seeded.replayed
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::NoopServer(args)) => {
            let listener = tokio::net::TcpListener::bind(args.listen)
                .await
                .with_context(|| format!("binding {}", args.listen))?;
            let sockets = if args.tcp_nodelay {
                Sockets::NoDelay
            } else {
                Sockets::AsTheService
            };
            eprintln!("no-op server on {} ({sockets:?})", listener.local_addr()?);
            noop::serve(listener, sockets, stop_signal()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::JetStream(args)) => publish(args).await,
        None => load(cli.load).await,
    }
}

/// Sets a config's closed-loop shape from the command line's [`Shape`]: the
/// gRPC and the JetStream configs carry its fields under the same names.
macro_rules! set_shape {
    ($config:expr, $shape:expr) => {{
        let Shape {
            connections,
            concurrency,
            duration,
            warmup,
            patients,
            patient_offset,
            timeout,
        } = $shape;
        let config = &mut $config;
        config.connections = connections;
        config.concurrency = concurrency;
        config.duration = duration;
        config.warmup = warmup;
        config.patients = patients;
        config.patient_offset = patient_offset;
        config.timeout = timeout;
    }};
}

async fn load(args: LoadArgs) -> anyhow::Result<ExitCode> {
    let mut config = LoadConfig::new(args.endpoint, args.target);
    set_shape!(config, args.shape);
    config.rate = args.rate;
    config.max_in_flight = args.max_in_flight;
    config.requester = Requester {
        user_id: args.user,
        role_code: args.role,
        organisation_ods: args.org,
    };
    config.noop_response_bytes = args.noop_response_bytes;
    let report = run(&config).await?;
    print_report(&report, args.json)
}

async fn publish(args: JetStreamArgs) -> anyhow::Result<ExitCode> {
    let mut config = JetStreamConfig::new(args.server);
    config.stream = args.stream;
    config.subject = args.subject;
    set_shape!(config, args.shape);
    if args.print_event {
        let events = jetstream::ObjectionEvents::new(
            config.patient_offset,
            config.patients,
            config.user_id.as_str(),
        );
        let hex: String = events
            .next_message()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        println!("{hex}");
        return Ok(ExitCode::SUCCESS);
    }
    let report = jetstream::run(&config).await?;
    print_report(&report, args.json)
}

/// Prints `report`; the exit status is 2 when any request failed or none
/// succeeded.
fn print_report(report: &Report, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        println!("{}", serde_json::to_string(report)?);
    } else {
        print!("{report}");
    }
    Ok(if report.errors_total > 0 || report.ok == 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// Resolves on Ctrl-C, or on SIGTERM where there is one.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_the_usual_units() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("10h").is_err());
        assert!(parse_duration("s").is_err());
    }

    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from(["consent-loadgen", "seed", "--patients", "5"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Seed(SeedArgs { patients: 5, .. }))
        ));
        let cli = Cli::try_parse_from(["consent-loadgen", "--target", "authorize-batch"]).unwrap();
        assert_eq!(cli.load.target, Target::AuthorizeBatch);
    }

    #[test]
    fn the_jetstream_peer_takes_the_load_flags() {
        let cli = Cli::try_parse_from([
            "consent-loadgen",
            "jetstream",
            "--server",
            "nats://127.0.0.1:14222",
            "--concurrency",
            "64",
            "--duration",
            "5s",
            "--warmup",
            "1s",
            "--json",
        ])
        .unwrap();
        let Some(Command::JetStream(args)) = cli.command else {
            panic!("the jetstream subcommand");
        };
        assert_eq!(args.server, "nats://127.0.0.1:14222");
        assert_eq!((args.shape.concurrency, args.shape.connections), (64, 4));
        assert_eq!(args.shape.duration, Duration::from_secs(5));
        assert_eq!(args.shape.warmup, Duration::from_secs(1));
        assert_eq!(args.stream, DEFAULT_STREAM);
        assert!(args.json && !args.print_event);
        // A load flag is not a subcommand flag.
        assert!(Cli::try_parse_from(["consent-loadgen", "jetstream", "--target", "noop"]).is_err());
    }
}

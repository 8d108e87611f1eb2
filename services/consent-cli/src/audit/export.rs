//! `audit export`: the decision trail as FHIR R4 AuditEvents (IHE Basic
//! Audit Log Patterns), for a FHIR audit repository, a SIEM or a national
//! audit service: NDJSON as FHIR Bulk Data writes it, or one `Bundle`.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use icr_fhir::AuditSource;
use icr_fhir::model::Identifier;
use tonic::transport::Channel;

use super::trail::{DecisionFilter, read_decisions};
use crate::caller::Caller;
use crate::failure;
use crate::replay::Replayed;

/// Observer named when the endpoint has no host to name.
const DEFAULT_OBSERVER: &str = "icr-consent-service";

/// The forms of export.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExportFormat {
    /// One AuditEvent per line (application/fhir+ndjson), written as the
    /// trail is read.
    FhirNdjson,
    /// One Bundle of type collection: a single JSON document, built in
    /// memory.
    FhirBundle,
}

/// Arguments of `audit export`.
#[derive(Args, Debug, Clone)]
pub(crate) struct ExportArgs {
    /// The form of the export.
    #[arg(long, value_name = "FORMAT")]
    pub(crate) format: ExportFormat,
    #[command(flatten)]
    pub(crate) filter: DecisionFilter,
    /// Write to this file (replacing it) instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// Identifier of this service deployment in the events (their observer
    /// and authorization server), e.g. its ODS code or host name; defaults
    /// to the host of --endpoint.
    #[arg(long, value_name = "ID")]
    pub(crate) observer: Option<String>,
}

/// Runs `audit export`: reads the trail once, up to the latest decision,
/// and writes it; says on stderr how many events went where.
pub(crate) async fn run(
    channel: Channel,
    caller: &Caller,
    args: &ExportArgs,
    endpoint: &str,
) -> Result<()> {
    let observer = args
        .observer
        .clone()
        .unwrap_or_else(|| default_observer(endpoint));
    let source = AuditSource::new(Identifier::unqualified(observer));
    let (mut out, target): (Box<dyn Write>, String) = match &args.out {
        Some(path) => {
            let file = File::create(path)
                .with_context(|| format!("cannot create the export file {}", path.display()))?;
            (Box::new(BufWriter::new(file)), path.display().to_string())
        }
        None => (Box::new(io::stdout().lock()), "standard output".to_owned()),
    };
    let mut held = Vec::new();
    let mut written = 0u64;
    let format = args.format;
    let read = read_decisions(channel, caller, args.filter.request(), |message| {
        let Replayed::Item(record) = message else {
            return Ok(());
        };
        match format {
            ExportFormat::FhirNdjson => {
                written += icr_fhir::write_ndjson([&record], &source, &mut out)
                    .map_err(failure::export)?;
            }
            ExportFormat::FhirBundle => held.push(record),
        }
        Ok(())
    })
    .await;
    let finished = read.and_then(|()| {
        if format == ExportFormat::FhirBundle {
            let bundle = icr_fhir::audit_events_bundle(&held, &source).map_err(failure::export)?;
            serde_json::to_writer_pretty(&mut out, &bundle)
                .map_err(|error| failure::export(error.into()))?;
            out.write_all(b"\n")?;
            written = held.len() as u64;
        }
        out.flush()?;
        Ok(())
    });
    if let Err(error) = finished {
        if args.out.is_some() {
            return Err(error.context(format!(
                "the export in {target} is incomplete; run the command again"
            )));
        }
        return Err(error);
    }
    eprintln!("wrote {written} AuditEvents to {target}");
    Ok(())
}

/// The host `--endpoint` names, or [`DEFAULT_OBSERVER`].
fn default_observer(endpoint: &str) -> String {
    endpoint
        .parse::<tonic::codegen::http::Uri>()
        .ok()
        .and_then(|uri| uri.host().map(str::to_owned))
        .filter(|host| !host.is_empty())
        .unwrap_or_else(|| DEFAULT_OBSERVER.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_observer_defaults_to_the_endpoint_host() {
        assert_eq!(
            default_observer("http://consent.icr.example:50051"),
            "consent.icr.example"
        );
        assert_eq!(default_observer("not a url"), DEFAULT_OBSERVER);
    }
}

//! `audit heads`: how far the event log and the decision trail are durable
//! now, with the chain hash at each head: where a replay resumes (from a
//! head's position plus one), and what a monitoring probe watches grow.

use anyhow::{Result, anyhow};
use clap::Args;
use icr_proto::pb::audit_service_client::AuditServiceClient;
use icr_proto::pb::{GetLogHeadsRequest, LogHead};
use serde_json::{Value, json};
use tonic::transport::Channel;

use crate::caller::Caller;
use crate::dates;
use crate::failure::CallContext;
use crate::output::{self, Output};

/// Arguments of `audit heads` (none).
#[derive(Args, Debug, Clone)]
pub(crate) struct HeadsArgs {}

/// Columns of the table; the JSON lines carry whole hashes.
const HEAD_FIELDS: &[&str] = &["log", "position", "recorded_at", "chain_hash"];

/// Runs `audit heads`: one row for the event log, one for the decision
/// trail.
pub(crate) async fn run(channel: Channel, caller: &Caller, out: Output) -> Result<()> {
    let heads = AuditServiceClient::new(channel)
        .get_log_heads(caller.request(GetLogHeadsRequest {}))
        .await
        .map_err(|status| CallContext::read().rejected(status))?
        .into_inner();
    let mut rows = Vec::with_capacity(2);
    for (log, head) in [("events", heads.events), ("decisions", heads.decisions)] {
        rows.push(head_row(log, &present(log, head)?, out.is_json()));
    }
    out.records(HEAD_FIELDS, &rows)?;
    Ok(())
}

/// A head the service left out is an error, never read as an empty log: a
/// position 0 would tell a resuming client to replay from the start and a
/// probe that the log shrank.
fn present(log: &str, head: Option<LogHead>) -> Result<LogHead> {
    head.ok_or_else(|| {
        anyhow!(
            "the service's answer has no head for the {log} log, so where it ends is not known; \
             it may be older or newer than this CLI: use a consent-cli of the service's version"
        )
    })
}

/// One head: the hash cut short in the table, whole in JSON.
fn head_row(log: &str, head: &LogHead, whole_hash: bool) -> Value {
    let hash = if whole_hash {
        output::hex(&head.chain_hash)
    } else {
        output::short_hex(&head.chain_hash)
    };
    json!({
        "log": log,
        "position": head.position,
        "recorded_at": dates::format_timestamp(head.recorded_at.as_ref()),
        "chain_hash": hash,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_head_is_an_error_not_an_empty_log() {
        let error = present("decisions", None).expect_err("no head");
        assert!(
            error
                .to_string()
                .starts_with("the service's answer has no head for the decisions log"),
            "{error}"
        );
        assert_eq!(
            present("events", Some(LogHead::default())).expect("head"),
            LogHead::default()
        );
    }

    #[test]
    fn an_empty_log_reads_as_position_zero_with_no_hash() {
        let row = head_row("decisions", &LogHead::default(), false);
        assert_eq!(row["position"], 0);
        assert_eq!(row["chain_hash"], "");
        let head = LogHead {
            position: 9,
            chain_hash: vec![0xcd; 32],
            recorded_at: None,
        };
        assert_eq!(
            head_row("events", &head, false)["chain_hash"],
            "cdcdcdcdcdcd…"
        );
        assert_eq!(
            head_row("events", &head, true)["chain_hash"],
            "cd".repeat(32)
        );
    }
}

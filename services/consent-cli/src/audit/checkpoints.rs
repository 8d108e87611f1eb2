//! `audit checkpoints`: the signed checkpoints of the hash chains, each a
//! statement, signed with the service's key, of how far both chains reached
//! and with which hash.

use anyhow::Result;
use clap::Args;
use icr_proto::pb::audit_service_client::AuditServiceClient;
use icr_proto::pb::{Checkpoint, ListCheckpointsRequest};
use serde_json::{Value, json};
use tonic::transport::Channel;

use crate::caller::Caller;
use crate::dates;
use crate::failure::CallContext;
use crate::output::{self, Output};

/// Checkpoints per page: the most the service allows.
const FULL_PAGE: u32 = 1000;

/// Arguments of `audit checkpoints`.
#[derive(Args, Debug, Clone)]
pub(crate) struct CheckpointsArgs {
    /// First checkpoint to show (sequences start at 1).
    #[arg(long = "from", value_name = "SEQUENCE", default_value_t = 1)]
    pub(crate) from_sequence: u64,
}

/// Columns of the table; the JSON lines carry whole hashes and the
/// signature.
const CHECKPOINT_FIELDS: &[&str] = &[
    "sequence",
    "signed_at",
    "event_position",
    "audit_position",
    "event_hash",
    "audit_hash",
    "signed_by",
];

/// Reads every checkpoint from `from_sequence` on, oldest first.
pub(crate) async fn list_checkpoints(
    channel: Channel,
    caller: &Caller,
    from_sequence: u64,
) -> Result<Vec<Checkpoint>> {
    let mut client = AuditServiceClient::new(channel);
    let mut checkpoints: Vec<Checkpoint> = Vec::new();
    let mut from_sequence = from_sequence;
    loop {
        let request = ListCheckpointsRequest {
            from_sequence,
            page_size: FULL_PAGE,
        };
        let page = client
            .list_checkpoints(caller.request(request))
            .await
            .map_err(|status| CallContext::read().rejected(status))?
            .into_inner()
            .checkpoints;
        // The response has no page token: a short page is the last one.
        let last_page = page.len() < FULL_PAGE as usize;
        checkpoints.extend(page);
        match checkpoints.last() {
            Some(last) if !last_page => from_sequence = last.sequence + 1,
            _ => return Ok(checkpoints),
        }
    }
}

/// Runs `audit checkpoints`.
pub(crate) async fn run(
    channel: Channel,
    caller: &Caller,
    args: &CheckpointsArgs,
    out: Output,
) -> Result<()> {
    let checkpoints = list_checkpoints(channel, caller, args.from_sequence).await?;
    if out.is_json() {
        for checkpoint in &checkpoints {
            output::json_line(&checkpoint_json(checkpoint))?;
        }
        return Ok(());
    }
    let rows: Vec<Value> = checkpoints.iter().map(checkpoint_row).collect();
    out.records(CHECKPOINT_FIELDS, &rows)?;
    Ok(())
}

/// A checkpoint for the table: hashes cut short, the signer by its whole
/// fingerprint (what a reader compares with the key they were given, as
/// keygen and verify show it).
fn checkpoint_row(checkpoint: &Checkpoint) -> Value {
    let mut row = checkpoint_record(checkpoint, output::short_hex);
    row["signed_by"] = json!(signer(checkpoint));
    row
}

/// A checkpoint in full, every byte string as hex.
fn checkpoint_json(checkpoint: &Checkpoint) -> Value {
    let mut record = checkpoint_record(checkpoint, output::hex);
    record["public_key"] = json!(output::hex(&checkpoint.public_key));
    record["fingerprint"] = json!(signer(checkpoint));
    record["signature"] = json!(output::hex(&checkpoint.signature));
    record
}

/// What the table and the JSON both show of a checkpoint: what it covers,
/// its hashes written by `hash`.
fn checkpoint_record(checkpoint: &Checkpoint, hash: fn(&[u8]) -> String) -> Value {
    json!({
        "sequence": checkpoint.sequence,
        "signed_at": dates::format_timestamp(checkpoint.signed_at.as_ref()),
        "event_position": checkpoint.event_position,
        "audit_position": checkpoint.audit_position,
        "event_hash": hash(&checkpoint.event_hash),
        "audit_hash": hash(&checkpoint.audit_hash),
    })
}

/// The fingerprint of the key a checkpoint names as its signer; empty when
/// it names none.
fn signer(checkpoint: &Checkpoint) -> String {
    match checkpoint.public_key.as_slice() {
        [] => String::new(),
        key => icr_log::key_fingerprint(key),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_shortens_hashes_and_the_json_keeps_them() {
        let checkpoint = Checkpoint {
            sequence: 2,
            event_position: 40,
            event_hash: vec![0xab; 32],
            public_key: vec![0x01; 32],
            ..Checkpoint::default()
        };
        assert_eq!(checkpoint_row(&checkpoint)["event_hash"], "abababababab…");
        assert_eq!(
            checkpoint_json(&checkpoint)["event_hash"]
                .as_str()
                .map(str::len),
            Some(64)
        );
        assert_eq!(checkpoint_row(&checkpoint)["audit_hash"], "");
        let fingerprint = icr_log::key_fingerprint(&[0x01; 32]);
        assert_eq!(
            checkpoint_row(&checkpoint)["signed_by"],
            fingerprint.as_str()
        );
        assert_eq!(
            checkpoint_json(&checkpoint)["fingerprint"],
            fingerprint.as_str()
        );
    }
}

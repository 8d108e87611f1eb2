//! `audit trail`: the decision audit replayed in audit order, filtered,
//! optionally live.

use anyhow::Result;
use clap::Args;
use icr_proto::pb::audit_service_client::AuditServiceClient;
use icr_proto::pb::{
    AccessMode, DecisionRecord, Purpose, ReadDecisionsRequest, ReadDecisionsResponse, RecordSection,
};
use serde_json::{Value, json};
use tonic::transport::Channel;

use crate::caller::Caller;
use crate::dates;
use crate::failure::CallContext;
use crate::names;
use crate::output::{self, Output};
use crate::progress::{ProgressOptions, ReplayProgress};
use crate::replay::{self, Replayed, RowPrinter, TimeWindow};

/// Which decisions to read: `audit trail` and `audit export` share these.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct DecisionFilter {
    /// Only decisions about this patient.
    #[arg(long = "nhs", value_name = "NHS_NUMBER", value_parser = crate::codes::nhs_number)]
    pub(crate) nhs_number: Option<String>,
    #[command(flatten)]
    pub(crate) window: TimeWindow,
    /// Only decisions asked in this access mode (repeated or
    /// comma-separated).
    #[arg(
        long = "mode",
        value_name = "MODE",
        value_delimiter = ',',
        value_parser = names::parser::<AccessMode>(),
    )]
    pub(crate) modes: Vec<AccessMode>,
}

impl DecisionFilter {
    /// The replay request for this filter, from the first record, once.
    pub(crate) fn request(&self) -> ReadDecisionsRequest {
        ReadDecisionsRequest {
            from_position: 1,
            limit: 0,
            follow: false,
            nhs_number: self.nhs_number.clone().unwrap_or_default(),
            from_time: self.window.since,
            to_time: self.window.until,
            access_modes: self.modes.iter().map(|&mode| mode.into()).collect(),
        }
    }
}

/// Arguments of `audit trail`.
#[derive(Args, Debug, Clone)]
pub(crate) struct TrailArgs {
    /// First audit position to show (positions start at 1). To resume, give
    /// one more than the position an earlier read caught up at.
    #[arg(long = "from", value_name = "POSITION", default_value_t = 1)]
    pub(crate) from_position: u64,
    /// Show at most this many decisions; 0 means every match up to the
    /// latest decision when the command started (or, with --follow, no
    /// limit).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub(crate) limit: u64,
    #[command(flatten)]
    pub(crate) filter: DecisionFilter,
    /// After catching up, keep printing new decisions as they are recorded,
    /// until Ctrl-C. A table is printed when the replay catches up, then a
    /// row per new decision in the same columns; --json prints every line
    /// as soon as it arrives.
    #[arg(long)]
    pub(crate) follow: bool,
    #[command(flatten)]
    pub(crate) progress: ProgressOptions,
}

/// Columns of the trail; the JSON lines carry these and more.
const TRAIL_FIELDS: &[&str] = &[
    "audit_position",
    // What `audit review` and `audit recheck` take.
    "decision_id",
    "recorded_at",
    "user_id",
    "role_code",
    "organisation_ods",
    "nhs_number",
    "section",
    "purpose",
    "access_mode",
    "outcome",
    "reason",
];

/// Streams the decision replay `request` asks for to `on_message`, in audit
/// order, with the caught-up marker where it comes.
pub(crate) async fn read_decisions(
    channel: Channel,
    caller: &Caller,
    request: ReadDecisionsRequest,
    on_message: impl FnMut(Replayed<DecisionRecord>) -> Result<()>,
) -> Result<()> {
    let call = CallContext::read();
    let follow = request.follow;
    let stream = AuditServiceClient::new(channel)
        .read_decisions(caller.request(request))
        .await
        .map_err(|status| call.rejected(status))?
        .into_inner();
    replay::drain(stream, call, follow, split, on_message).await
}

/// A decision record, or the caught-up marker.
fn split(response: ReadDecisionsResponse) -> Option<Replayed<DecisionRecord>> {
    match (response.record, response.caught_up) {
        (Some(record), _) => Some(Replayed::Item(record)),
        (None, Some(caught_up)) => Some(Replayed::CaughtUp(caught_up.position)),
        (None, None) => None,
    }
}

/// Runs `audit trail`.
pub(crate) async fn run(
    channel: Channel,
    caller: &Caller,
    args: &TrailArgs,
    output: Output,
) -> Result<()> {
    let request = ReadDecisionsRequest {
        from_position: args.from_position,
        limit: args.limit,
        follow: args.follow,
        ..args.filter.request()
    };
    let progress = ReplayProgress::new(&args.progress, "decisions", args.limit, args.follow);
    let mut printer = RowPrinter::new(output, TRAIL_FIELDS, "decisions", args.follow, progress);
    let read = read_decisions(channel, caller, request, |message| match message {
        Replayed::Item(record) => printer.record(record.audit_position, decision_record(&record)),
        Replayed::CaughtUp(position) => printer.caught_up(position),
    })
    .await;
    printer.finish(read.is_ok())?;
    read
}

/// One recorded decision: the trail's columns, and everything else the
/// record holds for a script.
pub(crate) fn decision_record(record: &DecisionRecord) -> Value {
    json!({
        "audit_position": record.audit_position,
        "recorded_at": dates::format_timestamp(record.recorded_at.as_ref()),
        "user_id": record.user_id,
        "role_code": record.role_code,
        "organisation_ods": record.organisation_ods,
        "nhs_number": record.nhs_number,
        "section": names::short_name_of::<RecordSection>(record.section),
        "purpose": names::short_name_of::<Purpose>(record.purpose),
        "access_mode": names::short_name_of::<AccessMode>(record.access_mode),
        "outcome": if record.allowed { "ALLOW" } else { "DENY" },
        "reason": record.reason,
        "decision_id": record.decision_id,
        "calling_system": record.calling_system,
        "access_reason": record.access_reason,
        "source_organisation_ods": record.source_organisation_ods,
        "obligations": record.obligations,
        "log_position": record.log_position,
        "review_due_by": dates::format_timestamp(record.review_due_by.as_ref()),
        "chain_hash": output::hex(&record.chain_hash),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_break_glass_record_reads_with_short_names() {
        let record = DecisionRecord {
            audit_position: 3,
            decision_id: "01JDECISION".to_owned(),
            section: RecordSection::Medications.into(),
            purpose: Purpose::DirectCare.into(),
            access_mode: AccessMode::BreakGlass.into(),
            allowed: true,
            chain_hash: vec![0xab, 0x01],
            ..DecisionRecord::default()
        };
        let row = decision_record(&record);
        assert_eq!(row["access_mode"], "break_glass");
        assert_eq!(row["outcome"], "ALLOW");
        assert_eq!(row["chain_hash"], "ab01");
        assert_eq!(row["review_due_by"], Value::Null);
    }

    #[test]
    fn the_filter_becomes_one_replay_from_the_start() {
        let filter = DecisionFilter {
            nhs_number: Some("9434765919".to_owned()),
            modes: vec![AccessMode::BreakGlass],
            ..DecisionFilter::default()
        };
        let request = filter.request();
        assert_eq!(request.from_position, 1);
        assert!(!request.follow);
        assert_eq!(request.access_modes, [AccessMode::BreakGlass as i32]);
    }
}

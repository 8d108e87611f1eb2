//! `audit report <NHS_NUMBER>`: one patient's access report, written for
//! the patient: who looked at which part of their record, when, from which
//! organisation, why and how, oldest first; each line says whether the
//! section was viewed or the attempt refused, and `--views-only` leaves the
//! refused attempts out.

use anyhow::Result;
use clap::Args;
use icr_events::codes::access_report_mark;
use icr_proto::pb::audit_service_client::AuditServiceClient;
use icr_proto::pb::{
    AccessMode, AccessReportEntry, AccessReportMark, DecisionRecord, GetAccessReportRequest,
    GetAccessReportResponse, Purpose, RecordSection,
};
use serde_json::{Value, json};
use tonic::transport::Channel;

use crate::caller::Caller;
use crate::dates;
use crate::failure::CallContext;
use crate::names;
use crate::output::Output;

/// Records per page when reading every page: the most the service allows.
const FULL_PAGE: u32 = 1000;

/// Arguments of `audit report`.
#[derive(Args, Debug, Clone)]
pub(crate) struct ReportArgs {
    /// NHS number of the patient.
    #[arg(value_name = "NHS_NUMBER")]
    pub(crate) nhs_number: String,
    /// Print one page of this many accesses instead of the whole report;
    /// the token of the next page is printed on stderr.
    #[arg(long, value_name = "N")]
    pub(crate) page_size: Option<u32>,
    /// The page to print, as given by an earlier page.
    #[arg(long, value_name = "TOKEN", requires = "page_size")]
    pub(crate) page_token: Option<String>,
    /// Only the views (sections released to the person who asked), leaving
    /// out refused attempts: everyone who has seen the record.
    #[arg(long)]
    pub(crate) views_only: bool,
}

/// Columns of the report, in the order a patient reads a line.
const REPORT_FIELDS: &[&str] = &[
    "when",
    "who",
    "role",
    "organisation",
    "section",
    "why",
    "how",
    "result",
];

/// Reads one page of the patient's access report.
pub(crate) async fn access_report_page(
    channel: Channel,
    caller: &Caller,
    args: &ReportArgs,
    page_size: u32,
    page_token: String,
) -> Result<GetAccessReportResponse> {
    let nhs_number = args.nhs_number.as_str();
    let request = GetAccessReportRequest {
        nhs_number: nhs_number.to_owned(),
        page_size,
        page_token,
        views_only: args.views_only,
    };
    let response = AuditServiceClient::new(channel)
        .get_access_report(caller.request(request))
        .await
        .map_err(|status| CallContext::patient_read(nhs_number).rejected(status))?;
    Ok(response.into_inner())
}

/// Runs `audit report`: every page, or the one asked for.
pub(crate) async fn run(
    channel: Channel,
    caller: &Caller,
    args: &ReportArgs,
    output: Output,
) -> Result<()> {
    let mut records = Vec::new();
    if let Some(page_size) = args.page_size {
        let token = args.page_token.clone().unwrap_or_default();
        let page = access_report_page(channel, caller, args, page_size, token).await?;
        let next_page_token = page.next_page_token.clone();
        records.extend(entries(page, args.views_only).iter().map(report_line));
        output.records(REPORT_FIELDS, &records)?;
        if !next_page_token.is_empty() {
            eprintln!("more: --page-size {page_size} --page-token {next_page_token}");
        }
        return Ok(());
    }
    let mut token = String::new();
    loop {
        let page = access_report_page(channel.clone(), caller, args, FULL_PAGE, token).await?;
        token = page.next_page_token.clone();
        records.extend(entries(page, args.views_only).iter().map(report_line));
        if token.is_empty() {
            break;
        }
    }
    output.records(REPORT_FIELDS, &records)?;
    Ok(())
}

/// The page's marked entries. A service older than the mark sends bare
/// records and ignores `views_only`: they are marked and filtered here, so
/// the report never shows a refused attempt as a view.
fn entries(page: GetAccessReportResponse, views_only: bool) -> Vec<AccessReportEntry> {
    if !page.entries.is_empty() || page.records.is_empty() {
        return page.entries;
    }
    page.records
        .into_iter()
        .map(|record| AccessReportEntry {
            mark: access_report_mark(&record).into(),
            decision: Some(record),
        })
        .filter(|entry| !views_only || entry.mark() == AccessReportMark::Viewed)
        .collect()
}

/// One access in the patient's words. Codes stay codes (the report is
/// printed for the patient by someone who can explain them), but the way in
/// and the result, viewed or refused, are said in words.
fn report_line(entry: &AccessReportEntry) -> Value {
    let default = DecisionRecord::default();
    let record = entry.decision.as_ref().unwrap_or(&default);
    // A mark this build does not know (a newer service) is never a view.
    let mark = match entry.mark() {
        AccessReportMark::Viewed => "viewed",
        AccessReportMark::Refused => "refused",
        AccessReportMark::Unspecified => "unknown",
    };
    let result = match entry.mark() {
        AccessReportMark::Viewed => mark.to_owned(),
        _ => format!("{mark} ({})", record.reason),
    };
    json!({
        "when": dates::format_timestamp(record.recorded_at.as_ref()),
        "who": record.user_id,
        "role": record.role_code,
        "organisation": record.organisation_ods,
        "section": words(&names::short_name_of::<RecordSection>(record.section)),
        "why": words(&names::short_name_of::<Purpose>(record.purpose)),
        "how": how(record),
        "result": result,
        "mark": mark,
        "calling_system": record.calling_system,
        "decision_id": record.decision_id,
        "audit_position": record.audit_position,
    })
}

/// How the viewer claimed the right to look, with their reason if they gave
/// one.
fn how(record: &DecisionRecord) -> String {
    let mode = match AccessMode::try_from(record.access_mode) {
        Ok(AccessMode::Unspecified | AccessMode::Normal) => "care relationship".to_owned(),
        Ok(AccessMode::BreakGlass) => "emergency access".to_owned(),
        Ok(AccessMode::SelfClaimedRelationship) => "claimed care relationship".to_owned(),
        Err(_) => names::short_name_of::<AccessMode>(record.access_mode),
    };
    if record.access_reason.is_empty() {
        mode
    } else {
        format!("{mode}: {}", record.access_reason)
    }
}

/// A short name as words: `test_results_pathology` → `test results pathology`.
fn words(short_name: &str) -> String {
    short_name.replace('_', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(record: DecisionRecord) -> AccessReportEntry {
        AccessReportEntry {
            mark: access_report_mark(&record).into(),
            decision: Some(record),
        }
    }

    #[test]
    fn an_emergency_access_reads_in_words() {
        let record = DecisionRecord {
            user_id: "dr-khan".to_owned(),
            organisation_ods: "RYA".to_owned(),
            section: RecordSection::TestResultsPathology.into(),
            purpose: Purpose::DirectCare.into(),
            access_mode: AccessMode::BreakGlass.into(),
            access_reason: "unconscious at the roadside".to_owned(),
            allowed: true,
            ..DecisionRecord::default()
        };
        let line = report_line(&marked(record));
        assert_eq!(line["section"], "test results pathology");
        assert_eq!(line["why"], "direct care");
        assert_eq!(line["how"], "emergency access: unconscious at the roadside");
        assert_eq!(line["result"], "viewed");
        assert_eq!(line["mark"], "viewed");
        let refused = marked(DecisionRecord {
            reason: "objection_active".to_owned(),
            ..DecisionRecord::default()
        });
        assert_eq!(
            report_line(&refused)["result"],
            "refused (objection_active)"
        );
        assert_eq!(report_line(&refused)["mark"], "refused");
        assert_eq!(report_line(&refused)["how"], "care relationship");
    }

    #[test]
    fn bare_records_from_an_older_service_are_marked_and_filtered_here() {
        let view = DecisionRecord {
            allowed: true,
            audit_position: 1,
            ..DecisionRecord::default()
        };
        let attempt = DecisionRecord {
            audit_position: 2,
            ..DecisionRecord::default()
        };
        let page = GetAccessReportResponse {
            records: vec![view.clone(), attempt],
            ..GetAccessReportResponse::default()
        };
        let all = entries(page.clone(), false);
        let marks: Vec<_> = all.iter().map(AccessReportEntry::mark).collect();
        assert_eq!(marks, [AccessReportMark::Viewed, AccessReportMark::Refused]);
        assert_eq!(entries(page, true), [marked(view)]);
    }
}

//! GetAccessReport: one patient's decisions, oldest first, each marked as a
//! view or a refused attempt; optionally the views alone.

use icr_events::codes::access_report_mark;
use icr_proto::pb::{
    AccessReportEntry, DecisionRecord, GetAccessReportRequest, GetAccessReportResponse,
};

use super::Api;
use super::audit::{page_size, page_token};
use super::replay::PAGE;
use crate::Storage;
use crate::status::ServiceResult;
use crate::validate;

impl<L: Storage> Api<L> {
    /// One page of the report. With `views_only`, refused attempts are
    /// skipped while the page is filled, so a page is short only at the end.
    pub(crate) async fn access_report(
        &self,
        mut req: GetAccessReportRequest,
    ) -> ServiceResult<GetAccessReportResponse> {
        validate::canonical_nhs_number("nhs_number", &mut req.nhs_number)?;
        let limit = page_size("page_size", req.page_size)?;
        let mut from = page_token("page_token", &req.page_token)?;
        // One more than asked tells whether another page exists.
        let wanted = limit + 1;
        let mut records: Vec<DecisionRecord> = Vec::with_capacity(wanted);
        loop {
            let read = if req.views_only { PAGE } else { wanted };
            let batch = self
                .log
                .patient_decisions(&req.nhs_number, from, read)
                .await?;
            let exhausted = batch.len() < read;
            if let Some(last) = batch.last() {
                from = last.audit_position + 1;
            }
            let kept = batch.into_iter().filter(|r| r.allowed || !req.views_only);
            records.extend(kept.take(wanted - records.len()));
            if exhausted || records.len() == wanted {
                break;
            }
        }
        let next_page_token = if records.len() > limit {
            records.truncate(limit);
            records
                .last()
                .map(|r| (r.audit_position + 1).to_string())
                .unwrap_or_default()
        } else {
            String::new()
        };
        let entries = records
            .iter()
            .map(|record| AccessReportEntry {
                mark: access_report_mark(record).into(),
                decision: Some(record.clone()),
            })
            .collect();
        Ok(GetAccessReportResponse {
            records,
            next_page_token,
            entries,
        })
    }
}

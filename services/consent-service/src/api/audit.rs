//! AuditService: the event log and the decision audit, replayed in order
//! from a position, and one patient's access report.

use std::future::Future;
use std::pin::Pin;

use icr_log::LogError;
use icr_proto::pb::audit_service_server::AuditService;
use icr_proto::pb::{
    GetAccessReportRequest, GetAccessReportResponse, ReadDecisionsRequest, ReadDecisionsResponse,
    ReadEventsRequest, ReadEventsResponse,
};
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use super::servers::Handle;
use crate::Storage;
use crate::status::ServiceResult;
use crate::validate;
use icr_events::FieldError;

/// Items read from storage per round trip.
const PAGE: usize = 256;
/// Largest access report page.
const MAX_REPORT_PAGE: u32 = 1000;
/// Access report page when the caller does not say.
const DEFAULT_REPORT_PAGE: u32 = 100;

/// A server stream of replayed items.
pub(crate) type Replay<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// Streams items `from..=last` (positions start at 1), reading a page at a
/// time with `read(from, limit)`, each item carrying its position so a
/// client can resume after the last one it saw.
fn replay<T, F, Fut>(from: u64, last: u64, read: F, position: fn(&T) -> u64) -> Replay<T>
where
    T: Send + 'static,
    F: Fn(u64, usize) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Vec<T>, LogError>> + Send,
{
    let (tx, rx) = tokio::sync::mpsc::channel(PAGE);
    tokio::spawn(async move {
        let mut next = from.max(1);
        while next <= last {
            let page = usize::try_from(last - next + 1).map_or(PAGE, |n| n.min(PAGE));
            let items = match read(next, page).await {
                Ok(items) if !items.is_empty() => items,
                Ok(_) => break,
                Err(error) => {
                    let _ = tx.send(Err(Status::internal(error.to_string()))).await;
                    break;
                }
            };
            for item in items {
                next = position(&item) + 1;
                if tx.send(Ok(item)).await.is_err() {
                    return;
                }
            }
        }
    });
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))
}

/// The last position to send: the head at the time of the call, or `limit`
/// items from `from`.
fn last_position(from: u64, limit: u64, head: u64) -> u64 {
    match limit {
        0 => head,
        n => head.min(from.max(1).saturating_add(n - 1)),
    }
}

impl<L: Storage> Handle<L> {
    async fn access_report(
        &self,
        req: GetAccessReportRequest,
    ) -> ServiceResult<GetAccessReportResponse> {
        validate::nhs_number("nhs_number", &req.nhs_number)?;
        let page_size = match req.page_size {
            0 => DEFAULT_REPORT_PAGE,
            n if n <= MAX_REPORT_PAGE => n,
            _ => {
                return Err(FieldError::new(
                    "page_size",
                    format!("must be at most {MAX_REPORT_PAGE}"),
                )
                .into());
            }
        };
        let from = match req.page_token.as_str() {
            "" => 1,
            token => token
                .parse::<u64>()
                .map_err(|_| FieldError::new("page_token", "is not a token this service gave"))?,
        };
        let limit = usize::try_from(page_size).unwrap_or(usize::MAX);
        // One more than asked tells whether another page exists.
        let mut records = self
            .0
            .log
            .patient_decisions(&req.nhs_number, from, limit + 1)
            .await?;
        let next_page_token = if records.len() > limit {
            records.truncate(limit);
            records
                .last()
                .map(|r| (r.audit_position + 1).to_string())
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(GetAccessReportResponse {
            records,
            next_page_token,
        })
    }
}

#[tonic::async_trait]
impl<L: Storage> AuditService for Handle<L> {
    type ReadEventsStream = Replay<ReadEventsResponse>;
    type ReadDecisionsStream = Replay<ReadDecisionsResponse>;

    /// Sends durable events from `from_position` up to the head at the time
    /// of the call (or `limit` events).
    async fn read_events(
        &self,
        request: Request<ReadEventsRequest>,
    ) -> Result<Response<Self::ReadEventsStream>, Status> {
        let req = request.into_inner();
        let log = self.0.log.clone();
        let last = last_position(req.from_position, req.limit, *log.subscribe().borrow());
        let read = move |from, limit| {
            let log = log.clone();
            async move {
                let events = log.read_from(from, limit).await?;
                Ok(events
                    .into_iter()
                    .map(|event| ReadEventsResponse { event: Some(event) })
                    .collect())
            }
        };
        let position = |r: &ReadEventsResponse| r.event.as_ref().map_or(0, |e| e.position);
        Ok(Response::new(replay(
            req.from_position,
            last,
            read,
            position,
        )))
    }

    /// Sends durable decision records from `from_position` up to the audit
    /// head at the time of the call (or `limit` records).
    async fn read_decisions(
        &self,
        request: Request<ReadDecisionsRequest>,
    ) -> Result<Response<Self::ReadDecisionsStream>, Status> {
        let req = request.into_inner();
        let log = self.0.log.clone();
        let last = last_position(
            req.from_position,
            req.limit,
            *log.subscribe_decisions().borrow(),
        );
        let read = move |from, limit| {
            let log = log.clone();
            async move {
                let records = log.read_decisions(from, limit).await?;
                Ok(records
                    .into_iter()
                    .map(|record| ReadDecisionsResponse {
                        record: Some(record),
                    })
                    .collect())
            }
        };
        let position =
            |r: &ReadDecisionsResponse| r.record.as_ref().map_or(0, |d| d.audit_position);
        Ok(Response::new(replay(
            req.from_position,
            last,
            read,
            position,
        )))
    }

    async fn get_access_report(
        &self,
        request: Request<GetAccessReportRequest>,
    ) -> Result<Response<GetAccessReportResponse>, Status> {
        Ok(Response::new(
            self.access_report(request.into_inner()).await?,
        ))
    }
}

//! AuditService: the log, replayed in order from a position.

use std::pin::Pin;

use icr_log::EventLog;
use icr_proto::pb::audit_service_server::AuditService;
use icr_proto::pb::{ReadEventsRequest, ReadEventsResponse};
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use super::servers::Handle;

/// Events read from the log per round trip.
const PAGE: usize = 256;

/// The replay stream type.
pub(crate) type EventStream =
    Pin<Box<dyn Stream<Item = Result<ReadEventsResponse, Status>> + Send>>;

#[tonic::async_trait]
impl<L: EventLog + Clone> AuditService for Handle<L> {
    type ReadEventsStream = EventStream;

    /// Sends durable events from `from_position` up to the head at the time
    /// of the call (or `limit` events), each with its position so a client
    /// can resume after the last one it saw.
    async fn read_events(
        &self,
        request: Request<ReadEventsRequest>,
    ) -> Result<Response<Self::ReadEventsStream>, Status> {
        let req = request.into_inner();
        let log = self.0.log.clone();
        let head = *log.subscribe().borrow();
        let mut next = req.from_position.max(1);
        let last = match req.limit {
            0 => head,
            n => head.min(next.saturating_add(n - 1)),
        };
        let stream = async_stream_of(move |tx| async move {
            while next <= last {
                let page = usize::try_from(last - next + 1).map_or(PAGE, |n| n.min(PAGE));
                let events = match log.read_from(next, page).await {
                    Ok(events) if !events.is_empty() => events,
                    Ok(_) => break,
                    Err(error) => {
                        let _ = tx.send(Err(Status::internal(error.to_string()))).await;
                        break;
                    }
                };
                for event in events {
                    next = event.position + 1;
                    if tx
                        .send(Ok(ReadEventsResponse { event: Some(event) }))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
        });
        Ok(Response::new(stream))
    }
}

/// Runs `produce` on a task feeding a bounded channel, and streams the channel.
fn async_stream_of<F, Fut>(produce: F) -> EventStream
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<ReadEventsResponse, Status>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(PAGE);
    tokio::spawn(produce(tx));
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))
}

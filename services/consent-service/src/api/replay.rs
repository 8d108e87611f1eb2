//! Resumable, filtered, optionally live replay of a positioned log (events
//! or decision records).
//!
//! A replay reads pages from a start position up to the durable head, sends
//! the items that pass the filter, then sends one caught-up marker. In
//! follow mode it then waits for the head to move and goes on. Items carry
//! their position, so a client that reconnects from one past the last
//! position it saw misses nothing and sees nothing twice.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use icr_events::timestamp_from_proto;

use icr_log::LogError;
use icr_proto::Timestamp;
use tokio::sync::{mpsc, watch};
use tokio_stream::Stream;
use tonic::Status;

use crate::status::ServiceError;

/// Items read from storage per round trip.
pub(crate) const PAGE: usize = 256;

/// A server stream of replayed messages.
pub(crate) type Replay<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// A boxed page read: items with positions from `from` on, at most `limit`.
pub(crate) type ReadPage<T> = Arc<
    dyn Fn(u64, usize) -> Pin<Box<dyn Future<Output = Result<Vec<T>, LogError>> + Send>>
        + Send
        + Sync,
>;

/// How an item is placed, filtered and sent.
pub(crate) struct Shape<T, R> {
    /// The item's position.
    pub(crate) position: fn(&T) -> u64,
    /// The item's recorded time.
    pub(crate) time: fn(&T) -> Option<Timestamp>,
    /// The message carrying one item.
    pub(crate) item: fn(T) -> R,
    /// The caught-up marker for a position.
    pub(crate) caught_up: fn(u64) -> R,
}

/// One replay, validated.
pub(crate) struct Plan<T> {
    /// First position to consider.
    pub(crate) from: u64,
    /// Most items to send (0 = no limit).
    pub(crate) limit: u64,
    /// Keep going after catching up.
    pub(crate) follow: bool,
    /// Skip items recorded before this instant (the start position is
    /// already the first at or after it; live items are checked too).
    pub(crate) since: Option<Timestamp>,
    /// Stop at the first item recorded at or after this instant.
    pub(crate) until: Option<Timestamp>,
    /// The durable head of the log replayed.
    pub(crate) head: watch::Receiver<u64>,
    /// Reads a page; may return items past the head (they wait their turn)
    /// and may skip positions an index says do not match.
    pub(crate) read: ReadPage<T>,
    /// Which items to send.
    pub(crate) keep: Box<dyn Fn(&T) -> bool + Send>,
    /// Becomes true when the service begins to shut down: a live replay
    /// then ends so the server can stop.
    pub(crate) stopping: watch::Receiver<bool>,
}

fn before(a: &Timestamp, b: &Timestamp) -> bool {
    (a.seconds, a.nanos) < (b.seconds, b.nanos)
}

/// Why a replay stopped early.
enum Stop {
    /// The client went away or the limit or end time was reached.
    Done,
    /// Storage failed; the client is told.
    Failed(Status),
}

/// Runs `plan` on its own task and streams its messages.
pub(crate) fn start<T, R>(plan: Plan<T>, shape: Shape<T, R>) -> Replay<R>
where
    T: Send + 'static,
    R: Send + 'static,
{
    let (tx, rx) = mpsc::channel(PAGE);
    tokio::spawn(async move {
        let errors = tx.clone();
        if let Err(Stop::Failed(status)) = run(plan, &shape, &tx).await {
            let _ = errors.send(Err(status)).await;
        }
    });
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))
}

async fn run<T, R>(
    mut plan: Plan<T>,
    shape: &Shape<T, R>,
    tx: &mpsc::Sender<Result<R, Status>>,
) -> Result<(), Stop> {
    let mut next = plan.from.max(1);
    let mut sent = 0u64;
    let mut caught_up = false;
    loop {
        let durable = *plan.head.borrow_and_update();
        while next <= durable {
            let items = (plan.read)(next, PAGE)
                .await
                .map_err(|e| Stop::Failed(ServiceError::from(e).into()))?;
            // A short page, or one reaching past the head, leaves nothing
            // else to match up to the head (items come in position order).
            let mut exhausted = items.len() < PAGE;
            for item in items {
                let position = (shape.position)(&item);
                if position > durable {
                    exhausted = true;
                    break;
                }
                if position < next {
                    continue;
                }
                let time = (shape.time)(&item).unwrap_or_default();
                if plan
                    .until
                    .as_ref()
                    .is_some_and(|until| !before(&time, until))
                {
                    return finish(tx, shape, caught_up, next - 1).await;
                }
                next = position + 1;
                let early = plan.since.as_ref().is_some_and(|s| before(&time, s));
                if !early && (plan.keep)(&item) {
                    tx.send(Ok((shape.item)(item)))
                        .await
                        .map_err(|_| Stop::Done)?;
                    sent += 1;
                    if plan.limit != 0 && sent >= plan.limit {
                        return Ok(());
                    }
                }
            }
            if exhausted {
                next = next.max(durable + 1);
            }
            // A long scan that sends little must not hold a worker, nor go
            // on for a client that has gone.
            tokio::task::yield_now().await;
            if tx.is_closed() {
                return Ok(());
            }
        }
        if !caught_up {
            caught_up = true;
            send_caught_up(tx, shape, next - 1).await?;
        }
        // Times never go backwards: nothing recorded from now on is before
        // an end time already past.
        let left = plan.until.as_ref().map(time_left);
        if !plan.follow || left.is_some_and(|left| left.is_zero()) {
            return Ok(());
        }
        tokio::select! {
            changed = plan.head.changed() => if changed.is_err() { return Ok(()) },
            () = tx.closed() => return Ok(()),
            () = sleep(left) => return Ok(()),
            // The watch `Ref` is dropped inside: it holds a read lock.
            () = async { drop(plan.stopping.wait_for(|stopping| *stopping).await) } => {
                let stopping = ServiceError::ShuttingDown { resume_from: next };
                return Err(Stop::Failed(stopping.into()));
            }
        }
    }
}

/// How long until `until` (zero once it has passed).
fn time_left(until: &Timestamp) -> Duration {
    let Some(until) = timestamp_from_proto(until) else {
        return Duration::ZERO;
    };
    Duration::try_from(until.duration_since(jiff::Timestamp::now())).unwrap_or(Duration::ZERO)
}

/// Sleeps for `left`, or for ever.
async fn sleep(left: Option<Duration>) {
    match left {
        Some(left) => tokio::time::sleep(left).await,
        None => std::future::pending().await,
    }
}

async fn send_caught_up<T, R>(
    tx: &mpsc::Sender<Result<R, Status>>,
    shape: &Shape<T, R>,
    position: u64,
) -> Result<(), Stop> {
    tx.send(Ok((shape.caught_up)(position)))
        .await
        .map_err(|_| Stop::Done)
}

/// Ends at the end time, marking the catch-up if it was not yet marked.
async fn finish<T, R>(
    tx: &mpsc::Sender<Result<R, Status>>,
    shape: &Shape<T, R>,
    caught_up: bool,
    position: u64,
) -> Result<(), Stop> {
    if !caught_up {
        send_caught_up(tx, shape, position).await?;
    }
    Ok(())
}

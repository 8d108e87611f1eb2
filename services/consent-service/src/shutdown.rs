//! Waiting for the signal to stop.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

/// Resolves on SIGINT or SIGTERM (Kubernetes sends SIGTERM to start a
/// graceful shutdown).
pub async fn signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = interrupt => {},
                    _ = term.recv() => {},
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only Ctrl-C stops the service");
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}

/// Polls `shutdown` once and gives back a future that finishes it.
///
/// [`signal`] installs its handlers on its first poll, and until then
/// SIGTERM has its default effect: the process dies without draining. The
/// server first polls its shutdown future only once it is serving, after
/// the `serving` line, so a SIGTERM sent on reading that line could kill
/// it. Arming the future just before that line closes the gap; a signal
/// during the (possibly long) start before it still stops the process at
/// once, before anything is served.
pub async fn armed<F>(shutdown: F) -> impl Future<Output = ()> + Send
where
    F: Future<Output = ()> + Send,
{
    let mut shutdown: Pin<Box<F>> = Box::pin(shutdown);
    let done = std::future::poll_fn(|cx| Poll::Ready(shutdown.as_mut().poll(cx).is_ready())).await;
    async move {
        // A finished future must not be polled again.
        if !done {
            shutdown.await;
        }
    }
}

//! Scenarios against the service in this process: each one gets
//! `consent_service::run` on `127.0.0.1:0` over its own temporary
//! directory, stopped through its shutdown future.

use consent_service::Options;
use icr_scenarios::{PolicyFiles, RunningService, StartService};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

/// Starts each scenario's service in this process.
#[derive(Debug, Clone, Copy, Default)]
pub struct InProcess;

/// A service running in this process, on its own temporary directory.
pub struct InProcessService {
    channel: Channel,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), String>>,
    /// Removed when the service is dropped, after it stopped.
    dir: tempfile::TempDir,
}

impl StartService for InProcess {
    type Running = InProcessService;

    /// Starts the service; calls wait for it to finish loading the pack.
    async fn start(&self, files: &PolicyFiles) -> Result<InProcessService, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("binding 127.0.0.1:0: {e}"))?;
        let address = listener.local_addr().map_err(|e| e.to_string())?;
        let channel = Channel::from_shared(format!("http://{address}"))
            .map_err(|e| e.to_string())?
            .connect_lazy();
        let (stop, stopped) = oneshot::channel::<()>();
        let options = Options::new(dir.path(), files.clone());
        let task = tokio::spawn(async move {
            consent_service::run(listener, options, async {
                let _ = stopped.await;
            })
            .await
            .map_err(|e| format!("{e:#}"))
        });
        Ok(InProcessService {
            channel,
            stop,
            task,
            dir,
        })
    }
}

impl RunningService for InProcessService {
    fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// Stops the service and waits for it; its error, if it failed.
    async fn stop(self) -> Result<(), String> {
        let _ = self.stop.send(());
        drop(self.channel);
        let outcome = match self.task.await {
            Ok(outcome) => outcome,
            Err(join) => Err(format!("the service task ended abnormally: {join}")),
        };
        drop(self.dir);
        outcome
    }
}

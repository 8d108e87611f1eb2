//! Storage that fails on demand: every call goes to the real log unless its
//! switch is on, in which case it fails as sled would, with
//! [`LogError::Storage`] and nothing written.

use icr_log::{
    AppendRequest, Appended, DecisionAudit, EventLog, LogError, TamperEvidence, ed25519_dalek,
};
use icr_proto::Timestamp;
use icr_proto::pb::{Checkpoint, DecisionRecord, RecordedEvent};
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::watch;

use super::Faults;

/// The real log behind the fault switches.
#[derive(Debug, Clone)]
pub(crate) struct FaultyStorage<L> {
    log: L,
    faults: Faults,
}

impl<L> FaultyStorage<L> {
    pub(crate) fn new(log: L, faults: Faults) -> Self {
        Self { log, faults }
    }

    /// Fails when `switch` is on.
    fn check(switch: &AtomicBool, what: &str) -> Result<(), LogError> {
        if switch.load(Ordering::SeqCst) {
            let io = std::io::Error::other(format!("injected fault: {what} failed"));
            return Err(LogError::Storage(sled::Error::Io(io)));
        }
        Ok(())
    }

    fn append_check(&self) -> Result<(), LogError> {
        Self::check(&self.faults.switches.appends, "append")
    }

    fn record_check(&self) -> Result<(), LogError> {
        Self::check(&self.faults.switches.decision_records, "decision record")
    }

    fn read_check(&self) -> Result<(), LogError> {
        Self::check(&self.faults.switches.reads, "read")
    }
}

impl<L: EventLog> EventLog for FaultyStorage<L> {
    async fn append(&self, request: AppendRequest) -> Result<Appended, LogError> {
        self.append_check()?;
        self.log.append(request).await
    }

    async fn find_request(
        &self,
        request_id: &str,
        fingerprint: &[u8],
    ) -> Result<Option<Appended>, LogError> {
        self.read_check()?;
        self.log.find_request(request_id, fingerprint).await
    }

    async fn read_from(&self, from: u64, limit: usize) -> Result<Vec<RecordedEvent>, LogError> {
        self.read_check()?;
        self.log.read_from(from, limit).await
    }

    async fn read_stream(
        &self,
        stream: &str,
        from_version: u64,
    ) -> Result<Vec<RecordedEvent>, LogError> {
        self.read_check()?;
        self.log.read_stream(stream, from_version).await
    }

    async fn first_position_since(&self, time: Timestamp) -> Result<u64, LogError> {
        self.read_check()?;
        self.log.first_position_since(time).await
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.log.subscribe()
    }
}

impl<L: DecisionAudit> DecisionAudit for FaultyStorage<L> {
    async fn record(&self, records: Vec<DecisionRecord>) -> Result<Vec<u64>, LogError> {
        self.faults.decisions_may_be_recorded().await;
        self.record_check()?;
        self.log.record(records).await
    }

    async fn read_decisions(
        &self,
        from: u64,
        limit: usize,
    ) -> Result<Vec<DecisionRecord>, LogError> {
        self.read_check()?;
        self.log.read_decisions(from, limit).await
    }

    async fn patient_decisions(
        &self,
        nhs_number: &str,
        from: u64,
        limit: usize,
    ) -> Result<Vec<DecisionRecord>, LogError> {
        self.read_check()?;
        self.log.patient_decisions(nhs_number, from, limit).await
    }

    async fn review_decisions(
        &self,
        from: u64,
        limit: usize,
    ) -> Result<Vec<DecisionRecord>, LogError> {
        self.read_check()?;
        self.log.review_decisions(from, limit).await
    }

    async fn find_decision(&self, decision_id: &str) -> Result<Option<DecisionRecord>, LogError> {
        self.read_check()?;
        self.log.find_decision(decision_id).await
    }

    async fn first_decision_since(&self, time: Timestamp) -> Result<u64, LogError> {
        self.read_check()?;
        self.log.first_decision_since(time).await
    }

    fn subscribe_decisions(&self) -> watch::Receiver<u64> {
        self.log.subscribe_decisions()
    }
}

impl<L: TamperEvidence> TamperEvidence for FaultyStorage<L> {
    async fn checkpoint(
        &self,
        key: &ed25519_dalek::SigningKey,
    ) -> Result<Option<Checkpoint>, LogError> {
        self.append_check()?;
        self.log.checkpoint(key).await
    }

    async fn checkpoints(&self, from: u64, limit: usize) -> Result<Vec<Checkpoint>, LogError> {
        self.read_check()?;
        self.log.checkpoints(from, limit).await
    }
}

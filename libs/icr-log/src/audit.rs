//! The decision audit: every access decision, allow and deny, recorded
//! durably before it is answered.
//!
//! Its own sled tree keeps consent history small (decisions will outnumber
//! events by far). Keys make the two common scans cheap:
//!
//! | key                                      | value                     |
//! |------------------------------------------|---------------------------|
//! | `a` + audit position (u64 BE)            | `DecisionRecord` (proto)  |
//! | `p` + NHS number + audit position (BE)   | empty: the patient index  |
//!
//! Audit positions are gapless and assigned in recording order, so they are
//! also time order: a time range is a position range.

use std::future::Future;
use std::sync::atomic::Ordering;

use icr_proto::pb::DecisionRecord;
use prost::Message;
use tokio::sync::watch;

use crate::keys::decode_u64;
use crate::{LogError, SledLog};

const RECORD: u8 = b'a';
const PATIENT: u8 = b'p';

fn record_key(position: u64) -> [u8; 9] {
    let mut key = [RECORD; 9];
    key[1..].copy_from_slice(&position.to_be_bytes());
    key
}

fn patient_key(nhs_number: &str, position: u64) -> Vec<u8> {
    let mut key = patient_prefix(nhs_number);
    key.extend_from_slice(&position.to_be_bytes());
    key
}

fn patient_prefix(nhs_number: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(nhs_number.len() + 9);
    key.push(PATIENT);
    key.extend_from_slice(nhs_number.as_bytes());
    key
}

/// The last audit position in `tree`, or 0.
pub(crate) fn head(tree: &sled::Tree) -> Result<u64, LogError> {
    match tree.scan_prefix([RECORD]).keys().next_back() {
        Some(key) => {
            let key = key?;
            decode_u64(&key[1..]).ok_or_else(|| {
                LogError::Inconsistent(format!("last audit key {key:?} is not a position"))
            })
        }
        None => Ok(0),
    }
}

fn decode(bytes: &[u8], position: u64) -> Result<DecisionRecord, LogError> {
    DecisionRecord::decode(bytes).map_err(|source| LogError::Corrupt {
        key: format!("decision {position}"),
        source,
    })
}

/// Where access decisions are recorded and read back.
pub trait DecisionAudit: Send + Sync + 'static {
    /// Records decisions atomically and returns once they are durable, with
    /// the audit positions assigned (in the given order).
    fn record(
        &self,
        records: Vec<DecisionRecord>,
    ) -> impl Future<Output = Result<Vec<u64>, LogError>> + Send;

    /// Up to `limit` durable records from audit position `from` on.
    fn read_decisions(
        &self,
        from: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<DecisionRecord>, LogError>> + Send;

    /// Up to `limit` durable records about one patient, from audit position
    /// `from` on, oldest first.
    fn patient_decisions(
        &self,
        nhs_number: &str,
        from: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<DecisionRecord>, LogError>> + Send;

    /// The durable audit head, updated after every flush.
    fn subscribe_decisions(&self) -> watch::Receiver<u64>;
}

impl DecisionAudit for SledLog {
    async fn record(&self, mut records: Vec<DecisionRecord>) -> Result<Vec<u64>, LogError> {
        let inner = &self.inner;
        let last = {
            let mut head = inner.audit_writer.lock().unwrap_or_else(|p| p.into_inner());
            let mut batch = sled::Batch::default();
            let mut position = *head;
            for record in &mut records {
                position += 1;
                record.audit_position = position;
                batch.insert(&record_key(position), record.encode_to_vec());
                batch.insert(patient_key(&record.nhs_number, position), &[]);
            }
            inner.audit_tree.apply_batch(batch)?;
            *head = position;
            inner.audit.written.store(position, Ordering::Release);
            position
        };
        self.make_durable(&inner.audit, last).await?;
        Ok(records.iter().map(|r| r.audit_position).collect())
    }

    async fn read_decisions(
        &self,
        from: u64,
        limit: usize,
    ) -> Result<Vec<DecisionRecord>, LogError> {
        let durable = *self.inner.audit.durable.borrow();
        let from = from.max(1);
        if from > durable {
            return Ok(Vec::new());
        }
        let range = self
            .inner
            .audit_tree
            .range(record_key(from)..=record_key(durable));
        range
            .take(limit)
            .map(|entry| {
                let (key, value) = entry?;
                decode(&value, decode_u64(&key[1..]).unwrap_or(0))
            })
            .collect()
    }

    async fn patient_decisions(
        &self,
        nhs_number: &str,
        from: u64,
        limit: usize,
    ) -> Result<Vec<DecisionRecord>, LogError> {
        let durable = *self.inner.audit.durable.borrow();
        let tree = &self.inner.audit_tree;
        let prefix_len = patient_prefix(nhs_number).len();
        let range =
            tree.range(patient_key(nhs_number, from.max(1))..=patient_key(nhs_number, durable));
        let mut records = Vec::new();
        for entry in range.keys().take(limit) {
            let key = entry?;
            let position = decode_u64(&key[prefix_len..]).unwrap_or(0);
            let value = tree.get(record_key(position))?.ok_or_else(|| {
                LogError::Inconsistent(format!("patient index names missing decision {position}"))
            })?;
            records.push(decode(&value, position)?);
        }
        Ok(records)
    }

    fn subscribe_decisions(&self) -> watch::Receiver<u64> {
        self.inner.audit.durable.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(nhs: &str, allowed: bool) -> DecisionRecord {
        DecisionRecord {
            nhs_number: nhs.into(),
            allowed,
            decision_id: "d".into(),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn decisions_are_durable_gapless_and_indexed_by_patient() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let log = SledLog::open(dir.path()).expect("open");
            let positions = log
                .record(vec![
                    record("9434765919", true),
                    record("9434765870", false),
                    record("9434765919", false),
                ])
                .await
                .expect("record");
            assert_eq!(positions, vec![1, 2, 3]);
            assert_eq!(*log.subscribe_decisions().borrow(), 3);
        }
        let log = SledLog::open(dir.path()).expect("reopen");
        let all = log.read_decisions(0, 10).await.expect("read");
        assert_eq!(
            all.iter().map(|r| r.audit_position).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        let mine = log
            .patient_decisions("9434765919", 0, 10)
            .await
            .expect("patient");
        assert_eq!(
            mine.iter().map(|r| r.audit_position).collect::<Vec<_>>(),
            vec![1, 3]
        );
        let page = log
            .patient_decisions("9434765919", 2, 10)
            .await
            .expect("patient");
        assert_eq!(page.len(), 1);
        assert_eq!(
            log.record(vec![record("9434765870", true)])
                .await
                .expect("record"),
            vec![4]
        );
        assert!(
            log.patient_decisions("4010232137", 0, 10)
                .await
                .expect("none")
                .is_empty()
        );
    }
}

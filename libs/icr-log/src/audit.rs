//! The decision audit: every access decision, allow and deny, recorded
//! durably before it is answered.
//!
//! Decisions have a sled tree of their own, laid out in [`crate::audit_keys`].

use std::future::Future;
use std::sync::atomic::Ordering;

use icr_proto::Timestamp;
use icr_proto::pb::DecisionRecord;
use prost::Message;
use tokio::sync::watch;

use crate::audit_keys::{
    RECORD, REVIEW, decision_id_key, patient_key, patient_prefix, record_time,
};
use crate::chain::{Chain, link};
use crate::keys::{self, decode_u64, positioned};
use crate::metrics::Kind;
use crate::tip::{Tip, Track};
use crate::{LogError, SledLog};

/// Where access decisions are recorded and read back.
pub trait DecisionAudit: Send + Sync + 'static {
    /// Records decisions atomically and returns once they are durable, with
    /// the audit positions assigned (in the given order). The log sets each
    /// record's position, and keeps its recorded time (now when unset)
    /// unless that is earlier than the previous record's.
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

    /// Up to `limit` durable records with a review due (`review_due_by`
    /// set), from audit position `from` on, oldest first.
    fn review_decisions(
        &self,
        from: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<DecisionRecord>, LogError>> + Send;

    /// The durable record with this decision id, if any.
    fn find_decision(
        &self,
        decision_id: &str,
    ) -> impl Future<Output = Result<Option<DecisionRecord>, LogError>> + Send;

    /// The first durable audit position recorded at or after `time` (one
    /// past the durable head when there is none).
    fn first_decision_since(
        &self,
        time: Timestamp,
    ) -> impl Future<Output = Result<u64, LogError>> + Send;

    /// The durable audit head, updated after every flush.
    fn subscribe_decisions(&self) -> watch::Receiver<u64>;
}

impl SledLog {
    fn audit_durable(&self) -> u64 {
        *self.inner.audit.durable.borrow()
    }

    /// The record at `position`, with its chain hash.
    pub(crate) fn decision_at(&self, position: u64) -> Result<DecisionRecord, LogError> {
        let tree = &self.inner.audit_tree;
        let value = tree.get(positioned(RECORD, position))?.ok_or_else(|| {
            LogError::Inconsistent(format!("an index names missing decision {position}"))
        })?;
        let (mut record, hash): (DecisionRecord, _) =
            keys::decode_sealed(&value, || format!("decision {position}"))?;
        record.chain_hash = hash.to_vec();
        Ok(record)
    }

    /// Records named by an index whose keys are `prefix` + position, from
    /// `from` up to the durable head.
    /// Each record must pass `belongs`, or the index is damaged.
    fn indexed(
        &self,
        prefix: &[u8],
        from: u64,
        limit: usize,
        belongs: impl Fn(&DecisionRecord) -> bool,
    ) -> Result<Vec<DecisionRecord>, LogError> {
        let durable = self.audit_durable();
        let key = |position: u64| {
            let mut key = prefix.to_vec();
            key.extend_from_slice(&position.to_be_bytes());
            key
        };
        let from = from.max(1);
        if from > durable {
            return Ok(Vec::new());
        }
        let range = self.inner.audit_tree.range(key(from)..=key(durable));
        range
            .keys()
            .take(limit)
            .map(|entry| {
                let entry = entry?;
                let position = decode_u64(&entry[prefix.len()..]).unwrap_or(0);
                let record = self.decision_at(position)?;
                if !belongs(&record) {
                    return Err(LogError::Inconsistent(format!(
                        "an index names decision {position}, which does not belong in it"
                    )));
                }
                Ok(record)
            })
            .collect()
    }
}

/// Stores the records of every caller in `batches` as one sled batch after
/// `tip`, and returns each caller's positions. The tip moves only once the
/// batch is stored.
fn store(
    tree: &sled::Tree,
    track: &Track,
    tip: &mut Tip,
    batches: Vec<Vec<DecisionRecord>>,
) -> Vec<Result<Vec<u64>, LogError>> {
    let Some(mut hash) = tip.hash else {
        let damaged = |_| Err(tip.damaged(Chain::Decisions));
        return batches.iter().map(damaged).collect();
    };
    let mut batch = sled::Batch::default();
    let mut position = tip.head;
    let mut time = tip.time;
    let now = tip.next_time();
    let mut positions = Vec::with_capacity(batches.len());
    for records in batches {
        let mut assigned = Vec::with_capacity(records.len());
        for mut record in records {
            position += 1;
            record.audit_position = position;
            record.chain_hash.clear();
            // The decision's own time (the instant it was evaluated at),
            // unless the clock went back since the last record.
            let at = record.recorded_at.unwrap_or(now);
            if (at.seconds, at.nanos) > (time.seconds, time.nanos) {
                time = at;
            }
            record.recorded_at = Some(time);
            let bytes = record.encode_to_vec();
            hash = link(&hash, &bytes);
            batch.insert(&positioned(RECORD, position), keys::seal(&hash, &bytes));
            batch.insert(patient_key(&record.nhs_number, position), &[]);
            batch.insert(
                decision_id_key(&record.decision_id),
                &position.to_be_bytes(),
            );
            if record.review_due_by.is_some() {
                batch.insert(&positioned(REVIEW, position), &[]);
            }
            assigned.push(position);
        }
        positions.push(assigned);
    }
    if let Err(error) = tree.apply_batch(batch) {
        // Part of the batch may be in memory: stop the chain here (see
        // `append::store`).
        tip.hash = None;
        return positions
            .iter()
            .map(|_| Err(LogError::Storage(error.clone())))
            .collect();
    }
    *tip = Tip {
        head: position,
        hash: Some(hash),
        time,
    };
    track.written.store(position, Ordering::Release);
    positions.into_iter().map(Ok).collect()
}

impl DecisionAudit for SledLog {
    async fn record(&self, records: Vec<DecisionRecord>) -> Result<Vec<u64>, LogError> {
        let inner = &self.inner;
        let started = std::time::Instant::now();
        let stored = inner
            .audit_writer
            .submit(records, |tip, batches| {
                store(&inner.audit_tree, &inner.audit, tip, batches)
            })
            .await
            .ok_or_else(|| LogError::Inconsistent("recording decisions panicked".into()))?;
        let positions = self.noting_failure(stored)?;
        if let Some(&last) = positions.last() {
            self.make_durable(&inner.audit, last).await?;
        }
        inner.metrics.appended(Kind::Decisions, started);
        Ok(positions)
    }

    async fn read_decisions(
        &self,
        from: u64,
        limit: usize,
    ) -> Result<Vec<DecisionRecord>, LogError> {
        self.indexed(&[RECORD], from, limit, |_| true)
    }

    async fn patient_decisions(
        &self,
        nhs_number: &str,
        from: u64,
        limit: usize,
    ) -> Result<Vec<DecisionRecord>, LogError> {
        let prefix = patient_prefix(nhs_number);
        self.indexed(&prefix, from, limit, |r| r.nhs_number == nhs_number)
    }

    async fn review_decisions(
        &self,
        from: u64,
        limit: usize,
    ) -> Result<Vec<DecisionRecord>, LogError> {
        self.indexed(&[REVIEW], from, limit, |r| r.review_due_by.is_some())
    }

    async fn find_decision(&self, decision_id: &str) -> Result<Option<DecisionRecord>, LogError> {
        let Some(position) = self.inner.audit_tree.get(decision_id_key(decision_id))? else {
            return Ok(None);
        };
        let position = decode_u64(&position).ok_or_else(|| {
            LogError::Inconsistent(format!("decision id {decision_id} indexes no position"))
        })?;
        if position > self.audit_durable() {
            return Ok(None);
        }
        let record = self.decision_at(position)?;
        if record.decision_id != decision_id {
            return Err(LogError::Inconsistent(format!(
                "decision id {decision_id} indexes decision {position}, which has another id"
            )));
        }
        Ok(Some(record))
    }

    async fn first_decision_since(&self, time: Timestamp) -> Result<u64, LogError> {
        let tree = &self.inner.audit_tree;
        keys::first_since(tree, RECORD, self.audit_durable(), time, record_time)
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

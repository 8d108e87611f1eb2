//! Group commit: making what was written durable, one flush at a time,
//! and recording the acknowledged heads before anyone is answered.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::acknowledged::Heads;
use crate::opening;
use crate::tip::Track;
use crate::{LogError, SledLog};

impl SledLog {
    /// Returns once everything up to `position` is on disk.
    ///
    /// Group commit: one flush runs at a time while appends go on. A writer
    /// that finds a flush in progress waits for it; if that flush began after
    /// the writer's batch was applied, it already covers it and the writer
    /// returns without flushing again. sled 0.34's `flush_async` can deadlock
    /// when called concurrently (sled issue 1308), so the blocking `flush`
    /// runs on the blocking pool, one at a time.
    pub(crate) async fn make_durable(&self, track: &Track, position: u64) -> Result<(), LogError> {
        let covered = || *track.durable.borrow() >= position;
        // Already flushed (often, when another writer applied this one's
        // batch): no need to queue behind the next flush.
        if covered() {
            return Ok(());
        }
        let _flushing = self.inner.flushing.lock().await;
        if covered() {
            return Ok(());
        }
        self.flush_now().await
    }

    /// Flushes everything written so far; the caller holds `flushing`.
    /// sled's flush reaches the device without flushing its cache, so the
    /// `db` file is then `fdatasync`ed as well (see `disk.rs`).
    pub(crate) async fn flush_now(&self) -> Result<(), LogError> {
        let inner = &self.inner;
        let started = Instant::now();
        let events = inner.events.written.load(Ordering::Acquire);
        let audit = inner.audit.written.load(Ordering::Acquire);
        let (events_before, audit_before) = (inner.events.durable(), inner.audit.durable());
        let heads = match inner.acknowledged {
            Some(_) => Some(opening::stored_heads(
                &inner.tree,
                events,
                &inner.audit_tree,
                audit,
            )?),
            None => None,
        };
        let flushing = Arc::clone(inner);
        // A failure is noted where it happens: the caller may be gone by
        // then (a cancelled request), and the service must still stop.
        // The acknowledged heads are recorded only once the log holds them
        // durably, and before anyone is answered.
        let flushed = tokio::task::spawn_blocking(move || -> Result<(), sled::Error> {
            let record = |heads: &Heads| match &flushing.acknowledged {
                Some(acknowledged) => acknowledged.record(heads),
                None => Ok(()),
            };
            let synced = (flushing.db.flush().map(drop))
                .and_then(|()| flushing.disk.sync().map_err(sled::Error::Io))
                .and_then(|()| {
                    heads
                        .as_ref()
                        .map_or(Ok(()), record)
                        .map_err(sled::Error::Io)
                });
            if let Err(error) = &synced {
                flushing.note_failure(error.to_string());
            }
            synced
        })
        .await
        .map_err(|e| {
            inner.note_failure(format!("the flush panicked: {e}"));
            LogError::Inconsistent(format!("flush task failed: {e}"))
        })?;
        flushed?;
        inner.flushes.fetch_add(1, Ordering::Relaxed);
        inner.events.advance(events);
        inner.audit.advance(audit);
        inner.metrics.flushed(
            started,
            events.saturating_sub(events_before),
            audit.saturating_sub(audit_before),
        );
        Ok(())
    }
}

//! GetLogHeads: how far the event log and the decision audit are durable,
//! with the chain hash at each head.

use icr_proto::pb::{GetLogHeadsResponse, LogHead};

use super::Api;
use crate::Storage;
use crate::status::{ServiceError, ServiceResult};

impl<L: Storage> Api<L> {
    /// Both durable heads, each read from the item at its position (items
    /// never change once durable, so the hash is the head's own).
    pub(crate) async fn log_heads(&self) -> ServiceResult<GetLogHeadsResponse> {
        let position = *self.log.subscribe().borrow();
        let event = match position {
            0 => None,
            _ => self.log.read_from(position, 1).await?.into_iter().next(),
        };
        let events = head(
            "event log",
            position,
            event.map(|e| (e.position, e.chain_hash, e.recorded_at)),
        )?;
        let position = *self.log.subscribe_decisions().borrow();
        let record = match position {
            0 => None,
            _ => self
                .log
                .read_decisions(position, 1)
                .await?
                .into_iter()
                .next(),
        };
        let decisions = head(
            "decision audit",
            position,
            record.map(|r| (r.audit_position, r.chain_hash, r.recorded_at)),
        )?;
        Ok(GetLogHeadsResponse {
            events: Some(events),
            decisions: Some(decisions),
        })
    }
}

/// The head at `position` from the item read there; an item missing or at
/// another position is an error, never a head reported short.
fn head(
    log: &str,
    position: u64,
    item: Option<(u64, Vec<u8>, Option<icr_proto::Timestamp>)>,
) -> ServiceResult<LogHead> {
    match item {
        None if position == 0 => Ok(LogHead::default()),
        Some((at, chain_hash, recorded_at)) if at == position => Ok(LogHead {
            position,
            chain_hash,
            recorded_at,
        }),
        _ => Err(ServiceError::Unavailable(format!(
            "the {log}'s head at position {position} could not be read; retry, and if it \
             persists check the log with consent-cli verify"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_log_has_head_zero_and_no_hash() {
        assert_eq!(
            head("event log", 0, None).expect("head"),
            LogHead::default()
        );
    }

    #[test]
    fn a_head_whose_item_cannot_be_read_is_an_error_not_a_shorter_head() {
        for item in [None, Some((6, vec![1; 32], None))] {
            let error = head("event log", 7, item).expect_err("no head");
            assert_eq!(
                error.to_string(),
                "the event log's head at position 7 could not be read; retry, and if it \
                 persists check the log with consent-cli verify"
            );
        }
    }
}

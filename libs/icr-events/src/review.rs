//! The review aggregate: a privacy officer's reviews of one exceptional
//! access, folded from its stream `review/<decision id>`.
//!
//! An access gets one final review (justified or not justified); a referral
//! is not final, so more reviews may follow it.

use icr_proto::pb::event_payload::Kind;
use icr_proto::pb::{EventPayload, ReviewOutcome};

use crate::CommandError;

/// The reviews of one access so far: the outcome the stream's last event
/// recorded, if it was a review.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Review {
    /// The last recorded outcome, or `None` before any review.
    pub outcome: Option<ReviewOutcome>,
}

impl Review {
    /// Folds one event of the review stream.
    pub fn apply(&mut self, payload: &EventPayload) {
        self.outcome = match payload.kind.as_ref() {
            Some(Kind::AccessReviewed(e)) => Some(e.outcome()),
            _ => None,
        };
    }

    /// Decides whether another review may be appended: not once a final
    /// one is recorded.
    pub fn decide(&self, _proposed: &EventPayload) -> Result<(), CommandError> {
        match self.outcome {
            None | Some(ReviewOutcome::Referred) => Ok(()),
            Some(_) => Err(CommandError::AlreadyExists(
                "this access already has a final review".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use icr_proto::pb::AccessReviewed;

    fn reviewed(outcome: ReviewOutcome) -> EventPayload {
        EventPayload {
            kind: Some(Kind::AccessReviewed(AccessReviewed {
                decision_id: "01J0000000000000000000000".into(),
                audit_position: 1,
                outcome: outcome.into(),
                note: String::new(),
            })),
        }
    }

    fn given(outcomes: &[ReviewOutcome]) -> Review {
        let mut review = Review::default();
        for &outcome in outcomes {
            review.apply(&reviewed(outcome));
        }
        review
    }

    #[test]
    fn given_no_review_when_reviewed_then_accepted() {
        let proposed = reviewed(ReviewOutcome::Justified);
        assert_eq!(given(&[]).decide(&proposed), Ok(()));
    }

    #[test]
    fn given_a_referral_when_reviewed_again_then_accepted() {
        let proposed = reviewed(ReviewOutcome::NotJustified);
        let review = given(&[ReviewOutcome::Referred, ReviewOutcome::Referred]);
        assert_eq!(review.decide(&proposed), Ok(()));
    }

    #[test]
    fn given_a_final_review_when_reviewed_again_then_already_exists() {
        for last in [ReviewOutcome::Justified, ReviewOutcome::NotJustified] {
            let review = given(&[ReviewOutcome::Referred, last]);
            let refused = review.decide(&reviewed(ReviewOutcome::Referred));
            let expected = "this access already has a final review";
            assert_eq!(
                refused,
                Err(CommandError::AlreadyExists(expected.into())),
                "{last:?}"
            );
        }
    }
}

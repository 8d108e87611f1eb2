//! Policy aggregates: an organisation's membership of the sharing agreement.
//! Role and region policies are replaced whole by each event, so any
//! well-formed one is accepted.

use icr_proto::pb::event_payload::Kind;
use icr_proto::pb::{
    AccessReviewed, ConsentModel, EventPayload, OrganisationJoined, OrganisationLeft, Purpose,
    RecordSection, RegionPolicySet, ReviewOutcome, RolePolicySet,
};

use crate::CommandError;
use crate::words::{Summary, enum_name, enum_names, viewed_from};

/// An organisation's standing in the sharing agreement, folded from its stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Membership {
    /// Version of the stream folded so far.
    pub version: u64,
    /// Name and region while the organisation is a member.
    pub member: Option<(String, String)>,
}

impl Membership {
    /// Folds one event of the organisation's stream.
    pub fn apply(&mut self, payload: &EventPayload) {
        self.version += 1;
        match payload.kind.as_ref() {
            Some(Kind::OrganisationJoined(e)) => {
                self.member = Some((e.name.clone(), e.region.clone()))
            }
            Some(Kind::OrganisationLeft(_)) => self.member = None,
            _ => {}
        }
    }

    /// Decides whether `proposed` may be appended to this stream.
    pub fn decide(&self, proposed: &EventPayload) -> Result<(), CommandError> {
        match proposed.kind.as_ref() {
            Some(Kind::OrganisationJoined(e)) => match &self.member {
                Some((name, region)) if *name == e.name && *region == e.region => Err(
                    CommandError::AlreadyExists("organisation is already in the agreement".into()),
                ),
                _ => Ok(()),
            },
            Some(Kind::OrganisationLeft(_)) if self.member.is_none() => Err(
                CommandError::FailedPrecondition("organisation is not in the agreement".into()),
            ),
            Some(Kind::OrganisationLeft(_) | Kind::RolePolicySet(_) | Kind::RegionPolicySet(_)) => {
                Ok(())
            }
            _ => Err(CommandError::FailedPrecondition(
                "not a policy event".into(),
            )),
        }
    }
}

impl Summary for OrganisationJoined {
    fn summary(&self) -> String {
        format!(
            "{} ({}) joined in region {}",
            self.ods_code, self.name, self.region
        )
    }
}

impl Summary for OrganisationLeft {
    fn summary(&self) -> String {
        format!("{} left", self.ods_code)
    }
}

impl Summary for RolePolicySet {
    fn summary(&self) -> String {
        format!(
            "role {} ({}) sees {} for {}",
            self.role_code,
            self.description,
            enum_names::<RecordSection>(&self.sections),
            enum_names::<Purpose>(&self.purposes)
        )
    }
}

impl Summary for RegionPolicySet {
    fn summary(&self) -> String {
        format!(
            "region {} ({}): {}, minimum age {}, {}",
            self.region,
            self.name,
            enum_name::<ConsentModel>(self.consent_model),
            self.minimum_age,
            viewed_from(&self.viewing_regions)
        )
    }
}

/// The review of an exceptional access is not a policy, but like the
/// policies it is a stream of its own (one per reviewed decision).
impl Summary for AccessReviewed {
    fn summary(&self) -> String {
        let note = if self.note.is_empty() {
            String::new()
        } else {
            format!(" ({})", self.note)
        };
        format!(
            "access {} reviewed: {}{note}",
            self.decision_id,
            enum_name::<ReviewOutcome>(self.outcome)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use icr_proto::pb::{OrganisationJoined, OrganisationLeft};

    fn joined(name: &str) -> EventPayload {
        let e = OrganisationJoined {
            ods_code: "RKB".into(),
            name: name.into(),
            region: "QWU".into(),
        };
        EventPayload {
            kind: Some(Kind::OrganisationJoined(e)),
        }
    }

    fn left() -> EventPayload {
        EventPayload {
            kind: Some(Kind::OrganisationLeft(OrganisationLeft {
                ods_code: "RKB".into(),
            })),
        }
    }

    #[test]
    fn given_nothing_when_leave_then_failed_precondition() {
        let m = Membership::default();
        assert!(matches!(
            m.decide(&left()),
            Err(CommandError::FailedPrecondition(_))
        ));
    }

    #[test]
    fn given_joined_when_join_again_then_already_exists_unless_details_change() {
        let mut m = Membership::default();
        m.apply(&joined("UHCW"));
        assert!(matches!(
            m.decide(&joined("UHCW")),
            Err(CommandError::AlreadyExists(_))
        ));
        assert_eq!(m.decide(&joined("UHCW renamed")), Ok(()));
        assert_eq!(m.decide(&left()), Ok(()));
        m.apply(&left());
        assert_eq!(m.member, None);
        assert_eq!(m.version, 2);
    }
}

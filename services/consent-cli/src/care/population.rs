//! Whether a registration puts the patient in the ICR's population: the
//! service records any valid registration, but only a practice in the
//! sharing agreement, in a region with policy, brings its patients in.
//! `care register-patient` says so when it does not, rather than leave the
//! operator to find out from a stream of `outside_population` denies.
//!
//! The answer is read from the log the way `events --stream` reads it: the
//! latest event of the practice's `organisation/` stream and of its
//! region's `region/` stream.

use icr_proto::pb::audit_service_client::AuditServiceClient;
use icr_proto::pb::event_payload::Kind;
use icr_proto::pb::{EventPayload, ReadEventsRequest};
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::caller::Caller;

/// Why a patient registered with a practice is outside the population, as
/// the policy in the log stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outside {
    /// The practice never joined the agreement.
    NotInAgreement,
    /// The practice joined and later left.
    LeftAgreement,
    /// The practice is in a region that has no policy.
    RegionWithoutPolicy(String),
}

impl Outside {
    /// The warning for a patient registered with `practice`.
    pub(crate) fn warning(&self, nhs_number: &str, practice: &str) -> String {
        let (why, until) = match self {
            Self::NotInAgreement => (
                format!("practice {practice} is not in the sharing agreement"),
                format!(
                    "the practice joins (`consent-cli policy join-org --ods {practice} --name … \
                     --region …`)"
                ),
            ),
            Self::LeftAgreement => (
                format!("practice {practice} has left the sharing agreement"),
                format!(
                    "the practice joins again (`consent-cli policy join-org --ods {practice} \
                     --name … --region …`)"
                ),
            ),
            Self::RegionWithoutPolicy(region) => (
                format!("practice {practice} is in region {region}, which has no policy"),
                format!(
                    "the region's policy is set (`consent-cli policy set-region --code {region} …`)"
                ),
            ),
        };
        format!(
            "warning: recorded, but {why}: patient {nhs_number} is outside this ICR's \
             population, and every request for their record is denied (outside_population) \
             until {until}"
        )
    }
}

/// Why a patient registered with `practice` is outside the population, or
/// `None` when the practice brings them in (the region's minimum age
/// aside). Errs with the status of a read the service refused.
pub(crate) async fn outside(
    channel: Channel,
    caller: &Caller,
    practice: &str,
) -> Result<Option<Outside>, Status> {
    let membership = latest(channel.clone(), caller, format!("organisation/{practice}")).await?;
    let region = match membership.and_then(|payload| payload.kind) {
        None => return Ok(Some(Outside::NotInAgreement)),
        Some(Kind::OrganisationJoined(joined)) => joined.region,
        Some(_) => return Ok(Some(Outside::LeftAgreement)),
    };
    let policy = latest(channel, caller, format!("region/{region}")).await?;
    match policy.and_then(|payload| payload.kind) {
        Some(Kind::RegionPolicySet(_)) => Ok(None),
        _ => Ok(Some(Outside::RegionWithoutPolicy(region))),
    }
}

/// What to print after a registration: the warning when the patient is
/// outside the population, a note when that could not be checked, and
/// nothing for a caller that may not read the log (a care feed under
/// mutual TLS), which learns of the population from its own deployment.
pub(crate) fn after_registering(
    checked: Result<Option<Outside>, Status>,
    nhs_number: &str,
    practice: &str,
) -> Option<String> {
    match checked {
        Ok(outside) => outside.map(|outside| outside.warning(nhs_number, practice)),
        Err(status)
            if matches!(
                status.code(),
                Code::PermissionDenied | Code::Unauthenticated
            ) =>
        {
            None
        }
        Err(status) => Some(format!(
            "note: recorded; whether practice {practice} brings the patient into the \
             population could not be checked: {:?}: {}",
            status.code(),
            status.message()
        )),
    }
}

/// The latest event on `stream`, if any.
async fn latest(
    channel: Channel,
    caller: &Caller,
    stream: String,
) -> Result<Option<EventPayload>, Status> {
    let request = ReadEventsRequest {
        from_position: 1,
        stream,
        ..ReadEventsRequest::default()
    };
    let mut replay = AuditServiceClient::new(channel)
        .read_events(caller.request(request))
        .await?
        .into_inner();
    let mut last = None;
    while let Some(message) = replay.message().await? {
        if message.caught_up.is_some() {
            break;
        }
        if let Some(event) = message.event {
            last = event.payload;
        }
    }
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_warning_says_why_and_what_brings_the_patient_in() {
        assert_eq!(
            Outside::NotInAgreement.warning("9434765919", "Y99999"),
            "warning: recorded, but practice Y99999 is not in the sharing agreement: patient \
             9434765919 is outside this ICR's population, and every request for their record \
             is denied (outside_population) until the practice joins (`consent-cli policy \
             join-org --ods Y99999 --name … --region …`)"
        );
        assert!(
            Outside::RegionWithoutPolicy("QHL".into())
                .warning("9434765919", "M86003")
                .contains("region QHL, which has no policy")
        );
    }

    #[test]
    fn a_caller_that_may_not_read_the_log_is_told_nothing_more() {
        let refused = Err(Status::permission_denied(
            "care_feed may not call AuditService",
        ));
        assert_eq!(after_registering(refused, "9434765919", "M86003"), None);
        let down = Err(Status::unavailable("shutting down"));
        assert_eq!(
            after_registering(down, "9434765919", "M86003").as_deref(),
            Some(
                "note: recorded; whether practice M86003 brings the patient into the \
                 population could not be checked: Unavailable: shutting down"
            )
        );
        assert_eq!(after_registering(Ok(None), "9434765919", "M86003"), None);
    }
}

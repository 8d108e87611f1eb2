//! Whether the state a planned change stands for holds in a patient's
//! consent status: the check made after a replay (is what was once
//! written still current?) and after a refusal to end something (was
//! there anything to end, and was the submitter one who may end it?).
//!
//! Times are judged by this machine's clock, which may differ from the
//! service's. Where that could turn the answer, the answer taken is the
//! one that keeps a refusal an error: a permission ending within
//! [`CLOCK_MARGIN_SECONDS`] of now may still be in force, and an attorney
//! must hold a power in date on every UK date the service could be on.

use crate::{dates, names};
use icr_fhir::consent_import::{ConsentChange, ConsentSubmitter};
use icr_proto::pb::{
    GetConsentStatusResponse, PermissionToView, PowerOfAttorney, PowerOfAttorneyKind,
};

/// How far apart this machine's clock and the service's may be, in
/// seconds, for a time comparison to be trusted.
pub(super) const CLOCK_MARGIN_SECONDS: i64 = 5 * 60;

/// Whether `status` shows the state `change` establishes, at `now` (in
/// seconds since the Unix epoch): an objection of its scope active
/// (record) or not (withdraw); a permission for its organisation until
/// exactly its `until` (grant), or none that may be in force (revoke): a
/// permission that lapsed less than [`CLOCK_MARGIN_SECONDS`] ago, by this
/// clock, may not have by the service's.
pub(super) fn holds(change: &ConsentChange, status: &GetConsentStatusResponse, now: i64) -> bool {
    match change {
        ConsentChange::RecordObjection { scope } => objecting(status, (*scope).into()),
        ConsentChange::WithdrawObjection { scope } => !objecting(status, (*scope).into()),
        ConsentChange::GrantPermissionToView {
            organisation_ods,
            until,
        } => {
            permission_end(status, organisation_ods)
                == Some((until.as_second(), until.subsec_nanosecond()))
        }
        ConsentChange::RevokePermissionToView { organisation_ods } => {
            permission_end(status, organisation_ods)
                .is_none_or(|(end, _)| end <= now.saturating_sub(CLOCK_MARGIN_SECONDS))
        }
    }
}

/// Whether `submitter` may make the patient's consent decisions, as far as
/// `status` shows, at `now` (seconds since the Unix epoch): the patient
/// always; an attorney only with a registered, verified power of a kind
/// that covers consent (a health-and-welfare LPA or a court-appointed
/// deputyship), in date on every UK calendar date the service's clock
/// could show (the service's rule, judged with the clock margin).
pub(super) fn may_decide(
    submitter: &ConsentSubmitter,
    status: &GetConsentStatusResponse,
    now: i64,
) -> bool {
    let ConsentSubmitter::Attorney { attorney_id } = submitter else {
        return true;
    };
    let Some(power) = status
        .powers_of_attorney
        .iter()
        .find(|power| &power.attorney_id == attorney_id)
    else {
        return false;
    };
    // The UK date is the UTC date or, in summer time, that of an hour on.
    let (Some(first_day), Some(last_day)) = (
        utc_date(now.saturating_sub(CLOCK_MARGIN_SECONDS)),
        utc_date(now.saturating_add(CLOCK_MARGIN_SECONDS + 3600)),
    ) else {
        return false;
    };
    covers_consent(power)
        && !power.valid_from.is_empty()
        && power.valid_from <= first_day
        && (power.valid_until.is_empty() || power.valid_until >= last_day)
}

/// Whether the power is of a kind, and verified, to decide on consent.
fn covers_consent(power: &PowerOfAttorney) -> bool {
    let kind = PowerOfAttorneyKind::try_from(power.kind);
    matches!(
        kind,
        Ok(PowerOfAttorneyKind::HealthAndWelfareLpa | PowerOfAttorneyKind::CourtAppointedDeputy)
    ) && !power.verified_by.trim().is_empty()
}

/// The UTC calendar date, `YYYY-MM-DD`, at `seconds` since the Unix epoch
/// (the form, and so the order, of the status's validity dates).
fn utc_date(seconds: i64) -> Option<String> {
    let instant = prost_types::Timestamp { seconds, nanos: 0 };
    let text = dates::format_timestamp(Some(&instant))?;
    let date = text.get(..10)?;
    (text.as_bytes().get(10) == Some(&b'T')).then(|| date.to_owned())
}

/// What `status` shows of the objection or permission `change` is about,
/// in words, for a message.
pub(super) fn describe(change: &ConsentChange, status: &GetConsentStatusResponse) -> String {
    match change {
        ConsentChange::RecordObjection { scope } | ConsentChange::WithdrawObjection { scope } => {
            let name = names::short_name_of::<icr_proto::pb::ObjectionScope>((*scope).into());
            if objecting(status, (*scope).into()) {
                format!("a {name} objection is active")
            } else {
                format!("no {name} objection is active")
            }
        }
        ConsentChange::GrantPermissionToView {
            organisation_ods, ..
        }
        | ConsentChange::RevokePermissionToView { organisation_ods } => {
            match permission(status, organisation_ods) {
                Some(permission) => format!(
                    "{organisation_ods} may view until {}",
                    dates::format_timestamp(permission.until.as_ref())
                        .unwrap_or_else(|| "an unknown time".to_owned())
                ),
                None => format!("{organisation_ods} holds no permission to view"),
            }
        }
    }
}

fn objecting(status: &GetConsentStatusResponse, scope: i32) -> bool {
    status.active_objections.contains(&scope)
}

/// The end (seconds and nanoseconds) of the organisation's permission, if
/// it has one (in force or lapsed).
fn permission_end(status: &GetConsentStatusResponse, ods: &str) -> Option<(i64, i32)> {
    permission(status, ods).map(|permission| {
        permission
            .until
            .as_ref()
            .map_or((0, 0), |until| (until.seconds, until.nanos))
    })
}

/// The organisation's permission, if it has one (in force or lapsed).
fn permission<'a>(status: &'a GetConsentStatusResponse, ods: &str) -> Option<&'a PermissionToView> {
    status
        .permissions_to_view
        .iter()
        .find(|permission| permission.organisation_ods == ods)
}

#[cfg(test)]
mod tests {
    use super::*;
    use icr_proto::pb::ObjectionScope;

    fn status(
        objections: &[ObjectionScope],
        permissions: &[(&str, i64)],
    ) -> GetConsentStatusResponse {
        GetConsentStatusResponse {
            active_objections: objections.iter().map(|&scope| scope.into()).collect(),
            permissions_to_view: permissions
                .iter()
                .map(|&(ods, seconds)| PermissionToView {
                    organisation_ods: ods.to_owned(),
                    until: Some(prost_types::Timestamp { seconds, nanos: 0 }),
                })
                .collect(),
            ..GetConsentStatusResponse::default()
        }
    }

    #[test]
    fn each_change_holds_only_in_the_state_it_establishes() {
        let now = 1_000;
        let scope = ObjectionScope::DirectCare;
        let record = ConsentChange::RecordObjection { scope };
        let withdraw = ConsentChange::WithdrawObjection { scope };
        let objecting = status(&[scope], &[]);
        let other_scope = status(&[ObjectionScope::SecondaryUse], &[]);
        assert!(holds(&record, &objecting, now));
        assert!(!holds(&record, &other_scope, now));
        assert!(!holds(&withdraw, &objecting, now));
        assert!(holds(&withdraw, &other_scope, now));

        let grant = ConsentChange::GrantPermissionToView {
            organisation_ods: "RKB".to_owned(),
            until: "1970-01-01T00:33:20Z".parse().unwrap(),
        };
        let revoke = ConsentChange::RevokePermissionToView {
            organisation_ods: "RKB".to_owned(),
        };
        assert!(holds(&grant, &status(&[], &[("RKB", 2_000)]), now));
        // Granted since for longer, or to someone else: not this grant.
        assert!(!holds(&grant, &status(&[], &[("RKB", 3_000)]), now));
        assert!(!holds(&grant, &status(&[], &[("RXX", 2_000)]), now));
        assert!(holds(&revoke, &status(&[], &[]), now));
        assert!(!holds(&revoke, &status(&[], &[("RKB", 1_001)]), now));
        assert_eq!(
            describe(&revoke, &status(&[], &[("RKB", 1_001)])),
            "RKB may view until 1970-01-01T00:16:41Z"
        );
        assert_eq!(
            describe(&withdraw, &objecting),
            "a direct_care objection is active"
        );
    }

    #[test]
    fn a_grant_holds_only_to_the_nanosecond_it_was_sent_with() {
        let grant = ConsentChange::GrantPermissionToView {
            organisation_ods: "RKB".to_owned(),
            until: "1970-01-01T00:33:20.5Z".parse().unwrap(),
        };
        let mut half_past = status(&[], &[("RKB", 2_000)]);
        assert!(!holds(&grant, &half_past, 1_000), "a different instant");
        if let Some(until) = half_past.permissions_to_view[0].until.as_mut() {
            until.nanos = 500_000_000;
        }
        assert!(holds(&grant, &half_past, 1_000));
    }

    #[test]
    fn a_permission_lapsed_by_this_clock_may_still_be_in_force_by_the_service() {
        let now = 1_000_000;
        let revoke = ConsentChange::RevokePermissionToView {
            organisation_ods: "RKB".to_owned(),
        };
        let ended = |end: i64| holds(&revoke, &status(&[], &[("RKB", end)]), now);
        assert!(ended(now - CLOCK_MARGIN_SECONDS), "lapsed five minutes ago");
        assert!(ended(now - 86_400), "lapsed yesterday");
        for end in [now - CLOCK_MARGIN_SECONDS + 1, now - 1, now, now + 60] {
            assert!(!ended(end), "ends at {end}, within the margin of {now}");
        }
    }

    /// A status with one power of attorney for `LPA-1`.
    fn with_power(
        kind: PowerOfAttorneyKind,
        valid_from: &str,
        valid_until: &str,
    ) -> GetConsentStatusResponse {
        GetConsentStatusResponse {
            powers_of_attorney: vec![PowerOfAttorney {
                attorney_id: "LPA-1".to_owned(),
                kind: kind.into(),
                verified_by: "opg-check-1".to_owned(),
                valid_from: valid_from.to_owned(),
                valid_until: valid_until.to_owned(),
            }],
            ..GetConsentStatusResponse::default()
        }
    }

    #[test]
    fn only_an_attorney_whose_power_surely_covers_now_may_decide() {
        // 2026-06-15T12:00:00Z, far from midnight either side.
        let noon = 1_781_524_800;
        let attorney = |id: &str| ConsentSubmitter::Attorney {
            attorney_id: id.to_owned(),
        };
        let lpa = PowerOfAttorneyKind::HealthAndWelfareLpa;
        let held = with_power(lpa, "2026-01-01", "");
        assert!(may_decide(
            &ConsentSubmitter::Patient,
            &GetConsentStatusResponse::default(),
            noon
        ));
        assert!(may_decide(&attorney("LPA-1"), &held, noon));
        assert!(
            !may_decide(&attorney("LPA-2"), &held, noon),
            "not registered"
        );
        let property = with_power(
            PowerOfAttorneyKind::PropertyAndFinancialLpa,
            "2026-01-01",
            "",
        );
        assert!(
            !may_decide(&attorney("LPA-1"), &property, noon),
            "wrong kind"
        );
        let deputy = with_power(
            PowerOfAttorneyKind::CourtAppointedDeputy,
            "2026-06-15",
            "2026-06-15",
        );
        assert!(
            may_decide(&attorney("LPA-1"), &deputy, noon),
            "in date today"
        );
        let ended = with_power(lpa, "2026-01-01", "2026-06-14");
        assert!(
            !may_decide(&attorney("LPA-1"), &ended, noon),
            "ended yesterday"
        );
        let mut unverified = held.clone();
        unverified.powers_of_attorney[0].verified_by = String::new();
        assert!(!may_decide(&attorney("LPA-1"), &unverified, noon));

        // Near midnight the service may be on the next or previous UK date.
        let starts_today = with_power(lpa, "2026-06-15", "");
        assert!(!may_decide(
            &attorney("LPA-1"),
            &starts_today,
            noon - 12 * 3600 + 60
        ));
        let ends_today = with_power(lpa, "2026-01-01", "2026-06-15");
        assert!(!may_decide(
            &attorney("LPA-1"),
            &ends_today,
            noon + 11 * 3600
        ));
        assert!(may_decide(
            &attorney("LPA-1"),
            &ends_today,
            noon + 10 * 3600
        ));
    }
}

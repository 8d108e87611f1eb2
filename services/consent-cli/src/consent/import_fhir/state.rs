//! Whether the state a planned change stands for holds in a patient's
//! consent status: the check made after a replay (is what was once
//! written still current?) and after a refusal to end something (was
//! there anything to end?).

use crate::{dates, names};
use icr_fhir::consent_import::ConsentChange;
use icr_proto::pb::{GetConsentStatusResponse, PermissionToView};

/// Whether `status` shows the state `change` establishes, at `now` (in
/// seconds since the Unix epoch): an
/// objection of its scope active (record) or not (withdraw); a permission
/// for its organisation until exactly its `until` (grant), or none in
/// force (revoke).
pub(super) fn holds(change: &ConsentChange, status: &GetConsentStatusResponse, now: i64) -> bool {
    match change {
        ConsentChange::RecordObjection { scope } => objecting(status, (*scope).into()),
        ConsentChange::WithdrawObjection { scope } => !objecting(status, (*scope).into()),
        ConsentChange::GrantPermissionToView {
            organisation_ods,
            until,
        } => permission_until(status, organisation_ods) == Some(until.as_second()),
        ConsentChange::RevokePermissionToView { organisation_ods } => {
            permission_until(status, organisation_ods).is_none_or(|end| end <= now)
        }
    }
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

/// The end, in seconds, of the organisation's permission, if it has one
/// (in force or lapsed).
fn permission_until(status: &GetConsentStatusResponse, ods: &str) -> Option<i64> {
    permission(status, ods)
        .map(|permission| permission.until.as_ref().map_or(0, |until| until.seconds))
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
        assert!(
            holds(&revoke, &status(&[], &[("RKB", 1_000)]), now),
            "lapsed"
        );
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
}

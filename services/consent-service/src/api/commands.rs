//! Every write RPC's request, turned into the event it proposes: one
//! [`WriteRequest`] per request type, each taking its ids out, validating
//! its fields and building its event. [`super::write`] does the rest, the
//! same for all of them.

use icr_events::codes::{identifier, iso_date, objection_scope, power_of_attorney_kind};
use icr_events::{CommandError, FieldError, timestamp_from_proto};
use icr_proto::pb::event_payload::Kind;
use icr_proto::pb::*;

use super::Api;
use super::write::{Envelope, Proposal, WriteRequest};
use crate::Storage;
use crate::status::ServiceResult;
use crate::validate;
use crate::validate::limits::MAX_NOTE;

/// Implements [`Envelope`] for each write request, from one line per RPC:
/// `Request: "RpcName" => Response`, marked `unversioned` when the request
/// has no expected stream version.
macro_rules! envelopes {
    ($($request:ident: $rpc:literal => $response:ident $(, $unversioned:ident)?;)*) => {$(
        impl Envelope for $request {
            const RPC: &'static str = $rpc;
            type Response = $response;

            envelopes!(@take_ids $($unversioned)?);

            fn user_id(&self) -> &str {
                &self.user_id
            }

            // One response (RegisterPatient's) has more than the result.
            #[allow(clippy::needless_update)]
            fn response(result: WriteResult) -> $response {
                $response {
                    result: Some(result),
                    ..Default::default()
                }
            }
        }
    )*};
    (@take_ids) => {
        fn take_ids(&mut self) -> (String, Option<u64>) {
            (std::mem::take(&mut self.request_id), self.expected_stream_version.take())
        }
    };
    (@take_ids unversioned) => {
        fn take_ids(&mut self) -> (String, Option<u64>) {
            (std::mem::take(&mut self.request_id), None)
        }
    };
}

envelopes! {
    RecordObjectionRequest: "RecordObjection" => RecordObjectionResponse;
    WithdrawObjectionRequest: "WithdrawObjection" => WithdrawObjectionResponse;
    RegisterPowerOfAttorneyRequest: "RegisterPowerOfAttorney" => RegisterPowerOfAttorneyResponse;
    RevokePowerOfAttorneyRequest: "RevokePowerOfAttorney" => RevokePowerOfAttorneyResponse;
    GrantPermissionToViewRequest: "GrantPermissionToView" => GrantPermissionToViewResponse;
    RevokePermissionToViewRequest: "RevokePermissionToView" => RevokePermissionToViewResponse;
    RegisterPatientRequest: "RegisterPatient" => RegisterPatientResponse;
    StartCareRelationshipRequest: "StartCareRelationship" => StartCareRelationshipResponse;
    EndCareRelationshipRequest: "EndCareRelationship" => EndCareRelationshipResponse;
    // A review's stream is its decision's; the request names no version.
    RecordAccessReviewRequest: "RecordAccessReview" => RecordAccessReviewResponse, unversioned;
    JoinOrganisationRequest: "JoinOrganisation" => JoinOrganisationResponse;
    LeaveOrganisationRequest: "LeaveOrganisation" => LeaveOrganisationResponse;
    SetRolePolicyRequest: "SetRolePolicy" => SetRolePolicyResponse;
    SetRegionPolicyRequest: "SetRegionPolicy" => SetRegionPolicyResponse;
}

fn payload(kind: Kind) -> EventPayload {
    EventPayload { kind: Some(kind) }
}

/// A proposal an attorney may make for the patient `nhs_number`.
fn submitted(kind: Kind, attorney_id: &str, nhs_number: &str) -> Proposal<'static> {
    Proposal {
        on_behalf_of: if attorney_id.is_empty() {
            String::new()
        } else {
            nhs_number.to_owned()
        },
        ..Proposal::of(payload(kind))
    }
}

impl WriteRequest for RecordObjectionRequest {
    async fn propose<'a, L: Storage>(&mut self, _: &'a Api<L>) -> ServiceResult<Proposal<'a>> {
        validate::canonical_nhs_number("nhs_number", &mut self.nhs_number)?;
        let scope = objection_scope("scope", self.scope)?;
        let attorney_id = validate::submitter("submitter", self.submitter.as_ref())?;
        let kind = Kind::ObjectionRecorded(ObjectionRecorded {
            nhs_number: self.nhs_number.clone(),
            scope: scope.into(),
            attorney_id: attorney_id.clone(),
        });
        Ok(submitted(kind, &attorney_id, &self.nhs_number))
    }
}

impl WriteRequest for WithdrawObjectionRequest {
    async fn propose<'a, L: Storage>(&mut self, _: &'a Api<L>) -> ServiceResult<Proposal<'a>> {
        validate::canonical_nhs_number("nhs_number", &mut self.nhs_number)?;
        let scope = objection_scope("scope", self.scope)?;
        let attorney_id = validate::submitter("submitter", self.submitter.as_ref())?;
        let kind = Kind::ObjectionWithdrawn(ObjectionWithdrawn {
            nhs_number: self.nhs_number.clone(),
            scope: scope.into(),
            attorney_id: attorney_id.clone(),
        });
        Ok(submitted(kind, &attorney_id, &self.nhs_number))
    }
}

impl WriteRequest for RegisterPowerOfAttorneyRequest {
    async fn propose<'a, L: Storage>(&mut self, _: &'a Api<L>) -> ServiceResult<Proposal<'a>> {
        validate::canonical_nhs_number("nhs_number", &mut self.nhs_number)?;
        validate::id("attorney_id", &self.attorney_id)?;
        let kind = power_of_attorney_kind("kind", self.kind)?;
        validate::id("verified_by", &self.verified_by)?;
        let from = iso_date("valid_from", &self.valid_from)?;
        if !self.valid_until.is_empty() && iso_date("valid_until", &self.valid_until)? < from {
            return Err(FieldError::new("valid_until", "must not be before valid_from").into());
        }
        Ok(Proposal::of(payload(Kind::PowerOfAttorneyRegistered(
            PowerOfAttorneyRegistered {
                nhs_number: self.nhs_number.clone(),
                attorney_id: self.attorney_id.clone(),
                kind: kind.into(),
                verified_by: self.verified_by.clone(),
                valid_from: self.valid_from.clone(),
                valid_until: self.valid_until.clone(),
            },
        ))))
    }
}

impl WriteRequest for RevokePowerOfAttorneyRequest {
    async fn propose<'a, L: Storage>(&mut self, _: &'a Api<L>) -> ServiceResult<Proposal<'a>> {
        validate::canonical_nhs_number("nhs_number", &mut self.nhs_number)?;
        validate::id("attorney_id", &self.attorney_id)?;
        Ok(Proposal::of(payload(Kind::PowerOfAttorneyRevoked(
            PowerOfAttorneyRevoked {
                nhs_number: self.nhs_number.clone(),
                attorney_id: self.attorney_id.clone(),
            },
        ))))
    }
}

impl WriteRequest for GrantPermissionToViewRequest {
    async fn propose<'a, L: Storage>(&mut self, _: &'a Api<L>) -> ServiceResult<Proposal<'a>> {
        validate::canonical_nhs_number("nhs_number", &mut self.nhs_number)?;
        validate::ods("organisation_ods", &mut self.organisation_ods)?;
        let until = validate::present("until", self.until.as_ref())?;
        timestamp_from_proto(until)
            .ok_or_else(|| FieldError::new("until", "is not a valid timestamp"))?;
        let attorney_id = validate::submitter("submitter", self.submitter.as_ref())?;
        let kind = Kind::PermissionToViewGranted(PermissionToViewGranted {
            nhs_number: self.nhs_number.clone(),
            organisation_ods: self.organisation_ods.clone(),
            until: Some(*until),
            attorney_id: attorney_id.clone(),
        });
        Ok(submitted(kind, &attorney_id, &self.nhs_number))
    }
}

impl WriteRequest for RevokePermissionToViewRequest {
    async fn propose<'a, L: Storage>(&mut self, _: &'a Api<L>) -> ServiceResult<Proposal<'a>> {
        validate::canonical_nhs_number("nhs_number", &mut self.nhs_number)?;
        validate::ods("organisation_ods", &mut self.organisation_ods)?;
        let attorney_id = validate::submitter("submitter", self.submitter.as_ref())?;
        let kind = Kind::PermissionToViewRevoked(PermissionToViewRevoked {
            nhs_number: self.nhs_number.clone(),
            organisation_ods: self.organisation_ods.clone(),
            attorney_id: attorney_id.clone(),
        });
        Ok(submitted(kind, &attorney_id, &self.nhs_number))
    }
}

impl WriteRequest for RecordAccessReviewRequest {
    /// Reviews an access from the queue: its decision must be in the audit
    /// trail, due for review, and made by someone else.
    async fn propose<'a, L: Storage>(&mut self, api: &'a Api<L>) -> ServiceResult<Proposal<'a>> {
        validate::id("request_id", &self.request_id)?;
        validate::id("user_id", &self.user_id)?;
        validate::id("decision_id", &self.decision_id)?;
        let outcome = match ReviewOutcome::try_from(self.outcome) {
            Ok(ReviewOutcome::Unspecified) | Err(_) => {
                let message = "must be JUSTIFIED, NOT_JUSTIFIED or REFERRED";
                return Err(FieldError::new("outcome", message).into());
            }
            Ok(outcome) => outcome,
        };
        if self.note.is_empty() && outcome != ReviewOutcome::Justified {
            let message = "must say what was found unless the access was justified";
            return Err(FieldError::new("note", message).into());
        }
        if !self.note.is_empty() {
            identifier("note", &self.note, MAX_NOTE)?;
        }

        let Some(record) = api.log.find_decision(&self.decision_id).await? else {
            let message = format!("no decision {} is in the audit trail", self.decision_id);
            return Err(CommandError::FailedPrecondition(message).into());
        };
        if record.user_id == self.user_id {
            let message = "the person who made an access cannot review it";
            return Err(CommandError::FailedPrecondition(message.into()).into());
        }
        if record.review_due_by.is_none() {
            let message = "this decision needs no review: it was not an allowed break-glass or \
                           self-claimed access";
            return Err(CommandError::FailedPrecondition(message.into()).into());
        }
        Ok(Proposal::of(payload(Kind::AccessReviewed(
            AccessReviewed {
                decision_id: self.decision_id.clone(),
                audit_position: record.audit_position,
                outcome: outcome.into(),
                note: self.note.clone(),
            },
        ))))
    }
}

mod care;
mod policy;

#[cfg(test)]
mod tests;

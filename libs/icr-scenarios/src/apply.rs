//! Applying `given` steps through the generated gRPC clients, each write
//! with a fresh request id, user `scenario` and calling system
//! `icr-scenarios`.

use consent_service::CALLING_SYSTEM_HEADER;
use icr_events::{timestamp_to_proto, uk_date};
use icr_proto::pb::access_decision_service_client::AccessDecisionServiceClient;
use icr_proto::pb::audit_service_client::AuditServiceClient;
use icr_proto::pb::care_context_service_client::CareContextServiceClient;
use icr_proto::pb::consent_service_client::ConsentServiceClient;
use icr_proto::pb::policy_admin_service_client::PolicyAdminServiceClient;
use icr_proto::pb::{self, submitter::Who};
use jiff::Timestamp;
use tonic::transport::Channel;

use crate::given::{Action, Objection};

/// The `user_id` of every write and request.
pub(crate) const USER: &str = "scenario";
/// The calling system every call names.
const CALLING_SYSTEM: &str = "icr-scenarios";

/// Clients of one running service.
pub(crate) struct Clients {
    pub(crate) decisions: AccessDecisionServiceClient<Channel>,
    pub(crate) audit: AuditServiceClient<Channel>,
    consent: ConsentServiceClient<Channel>,
    care: CareContextServiceClient<Channel>,
    policy: PolicyAdminServiceClient<Channel>,
}

impl Clients {
    /// Clients sharing one channel.
    pub(crate) fn new(channel: Channel) -> Self {
        Self {
            decisions: AccessDecisionServiceClient::new(channel.clone()),
            audit: AuditServiceClient::new(channel.clone()),
            consent: ConsentServiceClient::new(channel.clone()),
            care: CareContextServiceClient::new(channel.clone()),
            policy: PolicyAdminServiceClient::new(channel),
        }
    }
}

/// Why a step did not succeed.
pub(crate) enum StepFailure {
    /// The service refused the call.
    Refused(tonic::Status),
    /// The step could not be turned into a request (e.g. a date out of range).
    Unusable(String),
}

impl From<tonic::Status> for StepFailure {
    fn from(status: tonic::Status) -> Self {
        Self::Refused(status)
    }
}

/// `message` with the calling-system header.
pub(crate) fn call<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        CALLING_SYSTEM_HEADER,
        tonic::metadata::MetadataValue::from_static(CALLING_SYSTEM),
    );
    request
}

fn request_id() -> String {
    format!("scenario-{}", ulid::Ulid::new())
}

fn submitter(attorney: Option<&String>) -> Option<pb::Submitter> {
    let who = match attorney {
        Some(id) => Who::AttorneyId(id.clone()),
        None => Who::Patient(true),
    };
    Some(pb::Submitter { who: Some(who) })
}

fn scope(objection: &Objection) -> i32 {
    objection
        .scope
        .map_or(pb::ObjectionScope::DirectCare.into(), |s| s.number())
}

/// Applies one action. Relative dates and instants are resolved now.
pub(crate) async fn apply(clients: &mut Clients, action: &Action) -> Result<(), StepFailure> {
    let now = Timestamp::now();
    let today = uk_date(now);
    let date = |d: &crate::dates::RelativeDate| {
        d.resolve(today)
            .map(|d| d.to_string())
            .map_err(StepFailure::Unusable)
    };
    match action {
        Action::JoinOrg(a) => {
            let request = pb::JoinOrganisationRequest {
                request_id: request_id(),
                ods_code: a.ods.clone(),
                name: a.name.clone().unwrap_or_else(|| a.ods.clone()),
                region: a.region.clone(),
                user_id: USER.into(),
                expected_stream_version: None,
            };
            clients.policy.join_organisation(call(request)).await?;
        }
        Action::LeaveOrg(a) => {
            let request = pb::LeaveOrganisationRequest {
                request_id: request_id(),
                ods_code: a.ods.clone(),
                user_id: USER.into(),
                expected_stream_version: None,
            };
            clients.policy.leave_organisation(call(request)).await?;
        }
        Action::SetRole(a) => {
            let request = pb::SetRolePolicyRequest {
                request_id: request_id(),
                role_code: a.code.clone(),
                description: a.description.clone().unwrap_or_else(|| a.code.clone()),
                sections: a.sections.iter().map(|s| s.number()).collect(),
                purposes: a.purposes.iter().map(|p| p.number()).collect(),
                user_id: USER.into(),
                clinical: a.clinical,
                expected_stream_version: None,
            };
            clients.policy.set_role_policy(call(request)).await?;
        }
        Action::SetRegion(a) => {
            let children = match &a.children_social_care_from {
                Some(from) => date(from)?,
                None => String::new(),
            };
            let request = pb::SetRegionPolicyRequest {
                request_id: request_id(),
                region: a.code.clone(),
                name: a.name.clone().unwrap_or_else(|| a.code.clone()),
                consent_model: a.consent_model.number(),
                minimum_age: a.minimum_age,
                viewing_regions: a.viewing_regions.clone(),
                user_id: USER.into(),
                break_glass: a.break_glass,
                self_claimed_relationship: a.self_claimed_relationship,
                review_within_days: a.review_within_days,
                secondary_use_pseudonymised: a.secondary_use_pseudonymised,
                children_social_care_from: children,
                expected_stream_version: None,
            };
            clients.policy.set_region_policy(call(request)).await?;
        }
        Action::Register(a) => {
            let request = pb::RegisterPatientRequest {
                request_id: request_id(),
                nhs_number: a.nhs.clone(),
                gp_practice_ods: a.practice.clone(),
                date_of_birth: date(&a.dob)?,
                user_id: USER.into(),
                expected_stream_version: None,
            };
            clients.care.register_patient(call(request)).await?;
        }
        Action::CareStart(a) => {
            let request = pb::StartCareRelationshipRequest {
                request_id: request_id(),
                nhs_number: a.nhs.clone(),
                relationship_id: a.relationship.clone(),
                organisation_ods: a.org.clone(),
                kind: a.kind.number(),
                user_id: USER.into(),
                expected_stream_version: None,
            };
            clients.care.start_care_relationship(call(request)).await?;
        }
        Action::CareEnd(a) => {
            let request = pb::EndCareRelationshipRequest {
                request_id: request_id(),
                nhs_number: a.nhs.clone(),
                relationship_id: a.relationship.clone(),
                user_id: USER.into(),
                expected_stream_version: None,
            };
            clients.care.end_care_relationship(call(request)).await?;
        }
        Action::Object(a) => {
            let request = pb::RecordObjectionRequest {
                request_id: request_id(),
                nhs_number: a.nhs.clone(),
                scope: scope(a),
                submitter: submitter(a.attorney.as_ref()),
                user_id: USER.into(),
                expected_stream_version: None,
            };
            clients.consent.record_objection(call(request)).await?;
        }
        Action::Withdraw(a) => {
            let request = pb::WithdrawObjectionRequest {
                request_id: request_id(),
                nhs_number: a.nhs.clone(),
                scope: scope(a),
                submitter: submitter(a.attorney.as_ref()),
                user_id: USER.into(),
                expected_stream_version: None,
            };
            clients.consent.withdraw_objection(call(request)).await?;
        }
        Action::Attorney(a) => {
            let valid_from = match &a.valid_from {
                Some(from) => date(from)?,
                None => today.to_string(),
            };
            let valid_until = match &a.valid_until {
                Some(until) => date(until)?,
                None => String::new(),
            };
            let request = pb::RegisterPowerOfAttorneyRequest {
                request_id: request_id(),
                nhs_number: a.nhs.clone(),
                attorney_id: a.attorney.clone(),
                kind: a.kind.number(),
                verified_by: a.verified_by.clone().unwrap_or_else(|| USER.into()),
                valid_from,
                valid_until,
                user_id: USER.into(),
                expected_stream_version: None,
            };
            clients
                .consent
                .register_power_of_attorney(call(request))
                .await?;
        }
        Action::RevokeAttorney(a) => {
            let request = pb::RevokePowerOfAttorneyRequest {
                request_id: request_id(),
                nhs_number: a.nhs.clone(),
                attorney_id: a.attorney.clone(),
                user_id: USER.into(),
                expected_stream_version: None,
            };
            clients
                .consent
                .revoke_power_of_attorney(call(request))
                .await?;
        }
        Action::Grant(a) => {
            let until = a.until.resolve(now).map_err(StepFailure::Unusable)?;
            let request = pb::GrantPermissionToViewRequest {
                request_id: request_id(),
                nhs_number: a.nhs.clone(),
                organisation_ods: a.org.clone(),
                until: Some(timestamp_to_proto(until)),
                submitter: submitter(a.attorney.as_ref()),
                user_id: USER.into(),
                expected_stream_version: None,
            };
            clients
                .consent
                .grant_permission_to_view(call(request))
                .await?;
        }
        Action::RevokePermission(a) => {
            let request = pb::RevokePermissionToViewRequest {
                request_id: request_id(),
                nhs_number: a.nhs.clone(),
                organisation_ods: a.org.clone(),
                submitter: submitter(a.attorney.as_ref()),
                user_id: USER.into(),
                expected_stream_version: None,
            };
            clients
                .consent
                .revoke_permission_to_view(call(request))
                .await?;
        }
        Action::Wait(pause) => tokio::time::sleep(pause.0).await,
    }
    Ok(())
}

//! Applying `given` steps through the generated gRPC clients, each write
//! with a fresh request id, user `scenario` and calling system
//! `icr-scenarios`.

use icr_events::{timestamp_to_proto, uk_date};
use icr_packs::requests::{PolicyRequest, Submission};
use icr_proto::CALLING_SYSTEM_HEADER;
use icr_proto::pb::access_decision_service_client::AccessDecisionServiceClient;
use icr_proto::pb::audit_service_client::AuditServiceClient;
use icr_proto::pb::care_context_service_client::CareContextServiceClient;
use icr_proto::pb::consent_service_client::ConsentServiceClient;
use icr_proto::pb::event_payload::Kind;
use icr_proto::pb::policy_admin_service_client::PolicyAdminServiceClient;
use icr_proto::pb::{self, submitter::Who};
use jiff::Timestamp;
use tonic::metadata::{MetadataMap, MetadataValue};
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

/// The metadata of every call: the calling-system header.
fn metadata() -> MetadataMap {
    let mut metadata = MetadataMap::new();
    metadata.insert(
        CALLING_SYSTEM_HEADER,
        MetadataValue::from_static(CALLING_SYSTEM),
    );
    metadata
}

/// `message` with the calling-system header.
pub(crate) fn call<T>(message: T) -> tonic::Request<T> {
    tonic::Request::from_parts(metadata(), Default::default(), message)
}

fn request_id() -> String {
    format!("scenario-{}", ulid::Ulid::new())
}

/// Sends a write through `$client.$rpc`: `pb::$request` with the fields
/// given, a fresh request id, user `scenario` and no expected version.
macro_rules! send {
    ($client:expr, $rpc:ident, $request:ident { $($field:ident: $value:expr),* $(,)? }) => {
        $client
            .$rpc(call(pb::$request {
                request_id: request_id(),
                user_id: USER.into(),
                expected_stream_version: None,
                $($field: $value),*
            }))
            .await?
    };
}

/// Records a policy event through its policy RPC, the request built as
/// `consent-cli policy apply` builds it.
async fn policy(clients: &mut Clients, kind: Kind) -> Result<(), StepFailure> {
    let submission = Submission {
        request_id: request_id(),
        user_id: USER.into(),
        expected_stream_version: None,
    };
    let request = PolicyRequest::new(kind, submission)
        .ok_or_else(|| StepFailure::Unusable("not a policy change".into()))?;
    request.send(&mut clients.policy, &metadata()).await?;
    Ok(())
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
            let joined = pb::OrganisationJoined {
                ods_code: a.ods.clone(),
                name: a.name.clone().unwrap_or_else(|| a.ods.clone()),
                region: a.region.clone(),
            };
            policy(clients, Kind::OrganisationJoined(joined)).await?;
        }
        Action::LeaveOrg(a) => {
            let left = pb::OrganisationLeft {
                ods_code: a.ods.clone(),
            };
            policy(clients, Kind::OrganisationLeft(left)).await?;
        }
        Action::SetRole(a) => {
            let role = pb::RolePolicySet {
                role_code: a.code.clone(),
                description: a.description.clone().unwrap_or_else(|| a.code.clone()),
                sections: a.sections.iter().map(|s| s.number()).collect(),
                purposes: a.purposes.iter().map(|p| p.number()).collect(),
                clinical: a.clinical,
            };
            policy(clients, Kind::RolePolicySet(role)).await?;
        }
        Action::SetRegion(a) => {
            let children = match &a.children_social_care_from {
                Some(from) => date(from)?,
                None => String::new(),
            };
            let region = pb::RegionPolicySet {
                region: a.code.clone(),
                name: a.name.clone().unwrap_or_else(|| a.code.clone()),
                consent_model: a.consent_model.number(),
                minimum_age: a.minimum_age,
                viewing_regions: a.viewing_regions.clone(),
                break_glass: a.break_glass,
                self_claimed_relationship: a.self_claimed_relationship,
                review_within_days: a.review_within_days,
                secondary_use_pseudonymised: a.secondary_use_pseudonymised,
                children_social_care_from: children,
            };
            policy(clients, Kind::RegionPolicySet(region)).await?;
        }
        Action::Register(a) => {
            send!(
                clients.care,
                register_patient,
                RegisterPatientRequest {
                    nhs_number: a.nhs.clone(),
                    gp_practice_ods: a.practice.clone(),
                    date_of_birth: date(&a.dob)?,
                }
            );
        }
        Action::CareStart(a) => {
            send!(
                clients.care,
                start_care_relationship,
                StartCareRelationshipRequest {
                    nhs_number: a.nhs.clone(),
                    relationship_id: a.relationship.clone(),
                    organisation_ods: a.org.clone(),
                    kind: a.kind.number(),
                }
            );
        }
        Action::CareEnd(a) => {
            send!(
                clients.care,
                end_care_relationship,
                EndCareRelationshipRequest {
                    nhs_number: a.nhs.clone(),
                    relationship_id: a.relationship.clone(),
                }
            );
        }
        Action::Object(a) => {
            send!(
                clients.consent,
                record_objection,
                RecordObjectionRequest {
                    nhs_number: a.nhs.clone(),
                    scope: scope(a),
                    submitter: submitter(a.attorney.as_ref()),
                }
            );
        }
        Action::Withdraw(a) => {
            send!(
                clients.consent,
                withdraw_objection,
                WithdrawObjectionRequest {
                    nhs_number: a.nhs.clone(),
                    scope: scope(a),
                    submitter: submitter(a.attorney.as_ref()),
                }
            );
        }
        Action::Attorney(a) => {
            let from = match &a.valid_from {
                Some(from) => date(from)?,
                None => today.to_string(),
            };
            let until = match &a.valid_until {
                Some(until) => date(until)?,
                None => String::new(),
            };
            send!(
                clients.consent,
                register_power_of_attorney,
                RegisterPowerOfAttorneyRequest {
                    nhs_number: a.nhs.clone(),
                    attorney_id: a.attorney.clone(),
                    kind: a.kind.number(),
                    verified_by: a.verified_by.clone().unwrap_or_else(|| USER.into()),
                    valid_from: from,
                    valid_until: until,
                }
            );
        }
        Action::RevokeAttorney(a) => {
            send!(
                clients.consent,
                revoke_power_of_attorney,
                RevokePowerOfAttorneyRequest {
                    nhs_number: a.nhs.clone(),
                    attorney_id: a.attorney.clone(),
                }
            );
        }
        Action::Grant(a) => {
            let until = a.until.resolve(now).map_err(StepFailure::Unusable)?;
            send!(
                clients.consent,
                grant_permission_to_view,
                GrantPermissionToViewRequest {
                    nhs_number: a.nhs.clone(),
                    organisation_ods: a.org.clone(),
                    until: Some(timestamp_to_proto(until)),
                    submitter: submitter(a.attorney.as_ref()),
                }
            );
        }
        Action::RevokePermission(a) => {
            send!(
                clients.consent,
                revoke_permission_to_view,
                RevokePermissionToViewRequest {
                    nhs_number: a.nhs.clone(),
                    organisation_ods: a.org.clone(),
                    submitter: submitter(a.attorney.as_ref()),
                }
            );
        }
        Action::Wait(pause) => tokio::time::sleep(pause.0).await,
    }
    Ok(())
}

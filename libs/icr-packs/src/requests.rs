//! A policy event as the policy RPC request that records it.
//!
//! `consent-cli policy apply` sends the events a pack plans, and the
//! scenarios send the policy steps they are given, through the same RPCs:
//! both build the request here, so each event's fields are copied into
//! its request in one place.

use icr_proto::pb::event_payload::Kind;
use icr_proto::pb::policy_admin_service_client::PolicyAdminServiceClient;
use icr_proto::pb::{
    JoinOrganisationRequest, LeaveOrganisationRequest, SetRegionPolicyRequest,
    SetRolePolicyRequest, WriteResult,
};
use tonic::metadata::MetadataMap;
use tonic::transport::Channel;
use tonic::{Request, Status};

/// Who records a policy event, and on what condition.
#[derive(Debug, Clone, Default)]
pub struct Submission {
    /// The request id: a repeat with the same id and content records nothing.
    pub request_id: String,
    /// The person making the change.
    pub user_id: String,
    /// The version the event's stream must be at, if any.
    pub expected_stream_version: Option<u64>,
}

/// The policy RPC request that records one policy event.
#[derive(Debug, Clone, PartialEq)]
pub enum PolicyRequest {
    /// `JoinOrganisation`, recording `OrganisationJoined`.
    JoinOrganisation(JoinOrganisationRequest),
    /// `LeaveOrganisation`, recording `OrganisationLeft`.
    LeaveOrganisation(LeaveOrganisationRequest),
    /// `SetRolePolicy`, recording `RolePolicySet`.
    SetRolePolicy(SetRolePolicyRequest),
    /// `SetRegionPolicy`, recording `RegionPolicySet`.
    SetRegionPolicy(SetRegionPolicyRequest),
}

impl PolicyRequest {
    /// The request that records `kind` as `submission` says; `None` when
    /// `kind` is not a policy event.
    pub fn new(kind: Kind, submission: Submission) -> Option<Self> {
        let Submission {
            request_id,
            user_id,
            expected_stream_version,
        } = submission;
        Some(match kind {
            Kind::OrganisationJoined(o) => Self::JoinOrganisation(JoinOrganisationRequest {
                request_id,
                ods_code: o.ods_code,
                name: o.name,
                region: o.region,
                user_id,
                expected_stream_version,
            }),
            Kind::OrganisationLeft(o) => Self::LeaveOrganisation(LeaveOrganisationRequest {
                request_id,
                ods_code: o.ods_code,
                user_id,
                expected_stream_version,
            }),
            Kind::RolePolicySet(r) => Self::SetRolePolicy(SetRolePolicyRequest {
                request_id,
                role_code: r.role_code,
                description: r.description,
                sections: r.sections,
                purposes: r.purposes,
                clinical: r.clinical,
                user_id,
                expected_stream_version,
            }),
            Kind::RegionPolicySet(r) => {
                Self::SetRegionPolicy(with_region_settings!(SetRegionPolicyRequest, r, {
                    request_id,
                    region: r.region,
                    name: r.name,
                    consent_model: r.consent_model,
                    user_id,
                    expected_stream_version,
                }))
            }
            _ => return None,
        })
    }

    /// Sends the request with `metadata` (the calling system, for one)
    /// and answers what the service recorded.
    pub async fn send(
        self,
        client: &mut PolicyAdminServiceClient<Channel>,
        metadata: &MetadataMap,
    ) -> Result<Option<WriteResult>, Status> {
        fn with<T>(metadata: &MetadataMap, message: T) -> Request<T> {
            let mut request = Request::new(message);
            *request.metadata_mut() = metadata.clone();
            request
        }
        match self {
            Self::JoinOrganisation(r) => client
                .join_organisation(with(metadata, r))
                .await
                .map(|r| r.into_inner().result),
            Self::LeaveOrganisation(r) => client
                .leave_organisation(with(metadata, r))
                .await
                .map(|r| r.into_inner().result),
            Self::SetRolePolicy(r) => client
                .set_role_policy(with(metadata, r))
                .await
                .map(|r| r.into_inner().result),
            Self::SetRegionPolicy(r) => client
                .set_region_policy(with(metadata, r))
                .await
                .map(|r| r.into_inner().result),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use icr_proto::pb::{EventPayload, OrganisationLeft, PatientRegistered};

    #[test]
    fn every_policy_event_of_the_built_in_packs_has_its_request() {
        for name in crate::PolicyFiles::built_in_pack_names() {
            let files = crate::PolicyFiles::built_in_pack(name).expect("built in");
            for EventPayload { kind } in files.pack_events().expect("parses") {
                let kind = kind.expect("a kind");
                assert!(
                    PolicyRequest::new(kind.clone(), Submission::default()).is_some(),
                    "{name}: {kind:?}"
                );
            }
        }
    }

    #[test]
    fn the_submission_is_carried_and_other_events_have_no_request() {
        let submission = Submission {
            request_id: "r1".into(),
            user_id: "alice".into(),
            expected_stream_version: Some(3),
        };
        let leave = Kind::OrganisationLeft(OrganisationLeft {
            ods_code: "RKB".into(),
        });
        assert_eq!(
            PolicyRequest::new(leave, submission.clone()),
            Some(PolicyRequest::LeaveOrganisation(LeaveOrganisationRequest {
                request_id: "r1".into(),
                ods_code: "RKB".into(),
                user_id: "alice".into(),
                expected_stream_version: Some(3),
            }))
        );
        let registered = Kind::PatientRegistered(PatientRegistered::default());
        assert_eq!(PolicyRequest::new(registered, submission), None);
    }
}

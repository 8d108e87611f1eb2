//! Every RPC of the API, each with a request that succeeds for the caller
//! allowed to make it, in an order where each one's preconditions hold.

use icr_integration_tests::*;
use icr_proto::pb::access_decision_service_client::AccessDecisionServiceClient;
use icr_proto::pb::audit_service_client::AuditServiceClient;
use icr_proto::pb::care_context_service_client::CareContextServiceClient;
use icr_proto::pb::consent_service_client::ConsentServiceClient;
use icr_proto::pb::policy_admin_service_client::PolicyAdminServiceClient;
use icr_proto::pb::submitter::Who;
use icr_proto::pb::*;
use tonic::Status;
use tonic::transport::Channel;

/// The five clients over one channel (one caller's certificate).
#[derive(Clone)]
pub(crate) struct Clients {
    pub(crate) decisions: AccessDecisionServiceClient<Channel>,
    pub(crate) consent: ConsentServiceClient<Channel>,
    pub(crate) care: CareContextServiceClient<Channel>,
    pub(crate) policy: PolicyAdminServiceClient<Channel>,
    pub(crate) audit: AuditServiceClient<Channel>,
}

impl Clients {
    pub(crate) fn new(channel: Channel) -> Self {
        Self {
            decisions: AccessDecisionServiceClient::new(channel.clone()),
            consent: ConsentServiceClient::new(channel.clone()),
            care: CareContextServiceClient::new(channel.clone()),
            policy: PolicyAdminServiceClient::new(channel.clone()),
            audit: AuditServiceClient::new(channel),
        }
    }
}

/// What later RPCs need from earlier ones.
#[derive(Default)]
pub(crate) struct State {
    /// A break-glass decision, waiting for review.
    pub(crate) break_glass_decision: String,
}

/// The RPCs in an order where each one's preconditions hold, with the
/// service that serves them. `setup_break_glass` runs before the audit
/// RPCs.
pub(crate) const RPCS: [(&str, &str); 25] = [
    ("SetRegionPolicy", "PolicyAdminService"),
    ("JoinOrganisation", "PolicyAdminService"),
    ("LeaveOrganisation", "PolicyAdminService"),
    ("SetRolePolicy", "PolicyAdminService"),
    ("RegisterPatient", "CareContextService"),
    ("StartCareRelationship", "CareContextService"),
    ("Authorize", "AccessDecisionService"),
    ("AuthorizeBatch", "AccessDecisionService"),
    ("RecordObjection", "ConsentService"),
    ("WithdrawObjection", "ConsentService"),
    ("GetConsentStatus", "ConsentService"),
    ("RegisterPowerOfAttorney", "ConsentService"),
    ("RevokePowerOfAttorney", "ConsentService"),
    ("GrantPermissionToView", "ConsentService"),
    ("RevokePermissionToView", "ConsentService"),
    ("EndCareRelationship", "CareContextService"),
    ("ReadEvents", "AuditService"),
    ("ReadDecisions", "AuditService"),
    ("GetAccessReport", "AuditService"),
    ("ListReviewQueue", "AuditService"),
    ("RecordAccessReview", "AuditService"),
    ("AuthorizeAt", "AuditService"),
    ("RecheckDecision", "AuditService"),
    ("ListCheckpoints", "AuditService"),
    ("GetLogHeads", "AuditService"),
];

fn question(nhs: &str, requester: Requester, mode: AccessMode) -> AuthorizeRequest {
    AuthorizeRequest {
        nhs_number: nhs.into(),
        requester: Some(requester),
        section: RecordSection::Allergies.into(),
        purpose: Purpose::DirectCare.into(),
        access_mode: mode.into(),
        access_reason: if mode == AccessMode::BreakGlass {
            "collapsed in A&E".into()
        } else {
            String::new()
        },
        ..Default::default()
    }
}

fn by_patient() -> Option<Submitter> {
    Some(Submitter {
        who: Some(Who::Patient(true)),
    })
}

/// Makes the break-glass decision the review RPCs need: the care feed
/// registers a second patient, and the viewer's clinician, with no care
/// relationship, breaks the glass (the region allows it once
/// SetRegionPolicy ran).
pub(crate) async fn setup_break_glass(
    care_feed: &mut Clients,
    viewer: &mut Clients,
    state: &mut State,
) {
    care_feed
        .care
        .register_patient(RegisterPatientRequest {
            request_id: request_id(),
            nhs_number: OTHER_PATIENT.into(),
            gp_practice_ods: PRACTICE.into(),
            date_of_birth: "1970-01-01".into(),
            user_id: "gp-feed".into(),
            expected_stream_version: None,
        })
        .await
        .expect("register the second patient");
    let glass = question(OTHER_PATIENT, clinician(), AccessMode::BreakGlass);
    let decision = viewer
        .decisions
        .authorize(glass)
        .await
        .expect("break glass");
    let decision = decision.into_inner().decision.expect("decision");
    assert!(allowed(&decision), "break glass is allowed: {decision:?}");
    state.break_glass_decision = decision.decision_id;
}

/// Calls `rpc` with a request that succeeds for an allowed caller.
pub(crate) async fn call(rpc: &str, c: &mut Clients, state: &mut State) -> Result<(), Status> {
    match rpc {
        "SetRegionPolicy" => c
            .policy
            .set_region_policy(exceptional_access_region_policy())
            .await
            .map(drop),
        "JoinOrganisation" => c
            .policy
            .join_organisation(JoinOrganisationRequest {
                request_id: request_id(),
                ods_code: "RZZ01".into(),
                name: "Test trust".into(),
                region: "QWU".into(),
                user_id: "ig-lead".into(),
                expected_stream_version: None,
            })
            .await
            .map(drop),
        "LeaveOrganisation" => c
            .policy
            .leave_organisation(LeaveOrganisationRequest {
                request_id: request_id(),
                ods_code: "RZZ01".into(),
                user_id: "ig-lead".into(),
                expected_stream_version: None,
            })
            .await
            .map(drop),
        "SetRolePolicy" => c
            .policy
            .set_role_policy(SetRolePolicyRequest {
                request_id: request_id(),
                role_code: "R8008".into(),
                description: "Admin/Clinical Support Access Role".into(),
                sections: vec![RecordSection::Demographics.into()],
                purposes: vec![Purpose::DirectCare.into()],
                user_id: "ig-lead".into(),
                ..Default::default()
            })
            .await
            .map(drop),
        "RegisterPatient" => c
            .care
            .register_patient(RegisterPatientRequest {
                request_id: request_id(),
                nhs_number: PATIENT.into(),
                gp_practice_ods: PRACTICE.into(),
                date_of_birth: "1970-01-01".into(),
                user_id: "gp-feed".into(),
                expected_stream_version: None,
            })
            .await
            .map(drop),
        "StartCareRelationship" => c
            .care
            .start_care_relationship(StartCareRelationshipRequest {
                request_id: request_id(),
                nhs_number: PATIENT.into(),
                relationship_id: "ep-1".into(),
                organisation_ods: HOSPITAL.into(),
                kind: CareRelationshipKind::InpatientEpisode.into(),
                user_id: "pas-feed".into(),
                expected_stream_version: None,
            })
            .await
            .map(drop),
        "Authorize" => {
            let decision = c
                .decisions
                .authorize(question(PATIENT, clinician(), AccessMode::Normal))
                .await?;
            assert!(
                allowed(&decision.into_inner().decision.expect("decision")),
                "the allowed viewer is allowed"
            );
            Ok(())
        }
        "AuthorizeBatch" => c
            .decisions
            .authorize_batch(AuthorizeBatchRequest {
                nhs_number: PATIENT.into(),
                requester: Some(clinician()),
                sections: vec![
                    RecordSection::Allergies.into(),
                    RecordSection::Medications.into(),
                ],
                purpose: Purpose::DirectCare.into(),
                ..Default::default()
            })
            .await
            .map(drop),
        "RecordObjection" => c
            .consent
            .record_objection(Server::objection(PATIENT))
            .await
            .map(drop),
        "WithdrawObjection" => c
            .consent
            .withdraw_objection(WithdrawObjectionRequest {
                request_id: request_id(),
                nhs_number: PATIENT.into(),
                scope: ObjectionScope::DirectCare.into(),
                submitter: by_patient(),
                user_id: "pals-officer".into(),
                expected_stream_version: None,
            })
            .await
            .map(drop),
        "GetConsentStatus" => c
            .consent
            .get_consent_status(GetConsentStatusRequest {
                nhs_number: PATIENT.into(),
                min_log_position: 0,
            })
            .await
            .map(drop),
        "RegisterPowerOfAttorney" => c
            .consent
            .register_power_of_attorney(RegisterPowerOfAttorneyRequest {
                request_id: request_id(),
                nhs_number: PATIENT.into(),
                attorney_id: "opg-7000-1234".into(),
                kind: PowerOfAttorneyKind::HealthAndWelfareLpa.into(),
                verified_by: "records-officer-3".into(),
                valid_from: "2020-01-01".into(),
                valid_until: String::new(),
                user_id: "records-officer-3".into(),
                expected_stream_version: None,
            })
            .await
            .map(drop),
        "RevokePowerOfAttorney" => c
            .consent
            .revoke_power_of_attorney(RevokePowerOfAttorneyRequest {
                request_id: request_id(),
                nhs_number: PATIENT.into(),
                attorney_id: "opg-7000-1234".into(),
                user_id: "records-officer-3".into(),
                expected_stream_version: None,
            })
            .await
            .map(drop),
        "GrantPermissionToView" => c
            .consent
            .grant_permission_to_view(GrantPermissionToViewRequest {
                request_id: request_id(),
                nhs_number: PATIENT.into(),
                organisation_ods: "RLT".into(),
                until: Some(icr_events::timestamp_to_proto(
                    jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24),
                )),
                submitter: by_patient(),
                user_id: "ward-clerk".into(),
                expected_stream_version: None,
            })
            .await
            .map(drop),
        "RevokePermissionToView" => c
            .consent
            .revoke_permission_to_view(RevokePermissionToViewRequest {
                request_id: request_id(),
                nhs_number: PATIENT.into(),
                organisation_ods: "RLT".into(),
                submitter: by_patient(),
                user_id: "ward-clerk".into(),
                expected_stream_version: None,
            })
            .await
            .map(drop),
        "EndCareRelationship" => c
            .care
            .end_care_relationship(EndCareRelationshipRequest {
                request_id: request_id(),
                nhs_number: PATIENT.into(),
                relationship_id: "ep-1".into(),
                user_id: "pas-feed".into(),
                expected_stream_version: None,
            })
            .await
            .map(drop),
        "ReadEvents" => {
            let mut stream = c
                .audit
                .read_events(ReadEventsRequest {
                    from_position: 1,
                    limit: 1,
                    ..Default::default()
                })
                .await?
                .into_inner();
            stream.message().await.map(drop)
        }
        "ReadDecisions" => {
            let mut stream = c
                .audit
                .read_decisions(ReadDecisionsRequest {
                    from_position: 1,
                    limit: 1,
                    ..Default::default()
                })
                .await?
                .into_inner();
            stream.message().await.map(drop)
        }
        "GetAccessReport" => c
            .audit
            .get_access_report(GetAccessReportRequest {
                nhs_number: PATIENT.into(),
                ..Default::default()
            })
            .await
            .map(drop),
        "ListReviewQueue" => c
            .audit
            .list_review_queue(ListReviewQueueRequest::default())
            .await
            .map(drop),
        "RecordAccessReview" => c
            .audit
            .record_access_review(RecordAccessReviewRequest {
                request_id: request_id(),
                decision_id: state.break_glass_decision.clone(),
                outcome: ReviewOutcome::Justified.into(),
                note: "patient collapsed".into(),
                user_id: "privacy-officer".into(),
            })
            .await
            .map(drop),
        "AuthorizeAt" => c
            .audit
            .authorize_at(AuthorizeAtRequest {
                request: Some(question(PATIENT, clinician(), AccessMode::Normal)),
                at: Some(authorize_at_request::At::AtPosition(1)),
            })
            .await
            .map(drop),
        "RecheckDecision" => c
            .audit
            .recheck_decision(RecheckDecisionRequest {
                decision_id: state.break_glass_decision.clone(),
            })
            .await
            .map(drop),
        "ListCheckpoints" => c
            .audit
            .list_checkpoints(ListCheckpointsRequest::default())
            .await
            .map(drop),
        "GetLogHeads" => c.audit.get_log_heads(GetLogHeadsRequest {}).await.map(drop),
        other => panic!("no request for {other}"),
    }
}

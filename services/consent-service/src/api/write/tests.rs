//! Fingerprints are stored with every write: a retry of a request written
//! by an earlier build must hash the same, or it is refused as a reused id.
//! These pin each write RPC's fingerprint: the RPC name, then the request
//! as it was after validation rewrote its identifiers, with its request id
//! and expected stream version cleared.

use std::sync::Arc;

use icr_log::{DecisionAudit, SledLog};
use icr_projections::Projections;
use icr_proto::pb::submitter::Who;
use icr_proto::pb::*;
use prost::Message;
use tonic::metadata::MetadataMap;

use crate::api::Api;
use crate::api::write::WriteRequest;
use crate::policy_files::PolicyFiles;
use crate::view::View;
use crate::writes::{Command, fingerprint};

/// An NHS number with spaces, which validation rewrites without them.
const SPACED_NHS: &str = "943 476 5919";
const NHS: &str = "9434765919";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attorney() -> Option<Submitter> {
    Some(Submitter {
        who: Some(Who::AttorneyId("att-1".into())),
    })
}

/// The command `req` becomes, on a fresh service.
async fn command<R: WriteRequest>(api: &Api<SledLog>, mut req: R) -> Command {
    let (command, _) = api
        .command(&MetadataMap::new(), &mut req)
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", R::RPC));
    command
}

/// Checks `command` against the fingerprint an earlier build stored for
/// it, and against `rpc` and the request it hashed, as that build cleared it.
fn pinned(command: &Command, rpc: &str, hashed: &impl Message, stored: &str) {
    assert_eq!(command.request_id, "retry-1", "{rpc}");
    assert_eq!(command.fingerprint, fingerprint(rpc, hashed), "{rpc}");
    assert_eq!(hex(&command.fingerprint), stored, "{rpc}");
}

#[tokio::test]
async fn every_write_rpc_fingerprints_as_the_builds_before_it_did() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = SledLog::open(dir.path()).expect("log");
    let files = PolicyFiles::built_in();
    let view = View::starting_from(Projections::default(), crate::faults::Faults::default());
    tokio::spawn(view.clone().follow(log.clone(), files.clone()));
    let (_stopping, stopped) = tokio::sync::watch::channel(false);
    let api = Api::new(log.clone(), Arc::clone(&view), files, stopped);
    let due = Some(icr_proto::Timestamp {
        seconds: 1_900_000_000,
        nanos: 0,
    });
    let decision = DecisionRecord {
        decision_id: "01JDECISION".into(),
        user_id: "clinician-1".into(),
        review_due_by: due,
        ..Default::default()
    };
    let audit_position = log.record(vec![decision]).await.expect("record")[0];

    let objection = RecordObjectionRequest {
        request_id: "retry-1".into(),
        nhs_number: SPACED_NHS.into(),
        scope: ObjectionScope::DirectCare.into(),
        submitter: attorney(),
        user_id: "user-1".into(),
        expected_stream_version: Some(3),
    };
    let hashed = RecordObjectionRequest {
        request_id: String::new(),
        nhs_number: NHS.into(),
        expected_stream_version: None,
        ..objection.clone()
    };
    let recorded = command(&api, objection.clone()).await;
    assert_eq!(recorded.expected_version, Some(3));
    assert_eq!(recorded.actor.on_behalf_of, NHS);
    pinned(
        &recorded,
        "RecordObjection",
        &hashed,
        "2263c85e3b79ae88f3e1d5a521dd24068ca8b0482103e0e6f76ea25af78cc830",
    );
    let withdrawal = WithdrawObjectionRequest {
        request_id: objection.request_id.clone(),
        nhs_number: objection.nhs_number.clone(),
        scope: objection.scope,
        submitter: objection.submitter.clone(),
        user_id: objection.user_id.clone(),
        expected_stream_version: objection.expected_stream_version,
    };
    // Earlier builds hashed a withdrawal as the objection request it mirrors.
    pinned(
        &command(&api, withdrawal).await,
        "WithdrawObjection",
        &hashed,
        "fa90c60fcd4c782ff080b2c3c88693c0a6d4e5db7d4e702a0f4ed22d3ecd4049",
    );

    let attorney_registered = RegisterPowerOfAttorneyRequest {
        request_id: "retry-1".into(),
        nhs_number: SPACED_NHS.into(),
        attorney_id: "att-1".into(),
        kind: PowerOfAttorneyKind::HealthAndWelfareLpa.into(),
        verified_by: "officer-1".into(),
        valid_from: "2024-01-01".into(),
        valid_until: "2030-01-01".into(),
        user_id: "user-1".into(),
        expected_stream_version: Some(3),
    };
    let hashed = RegisterPowerOfAttorneyRequest {
        request_id: String::new(),
        nhs_number: NHS.into(),
        expected_stream_version: None,
        ..attorney_registered.clone()
    };
    let registered = command(&api, attorney_registered).await;
    assert_eq!(registered.actor.on_behalf_of, "");
    pinned(
        &registered,
        "RegisterPowerOfAttorney",
        &hashed,
        "9075fbb90a87894cec3e391306b3d6e3b74d888e40d6e2459c70a6d57a261102",
    );

    let revoked = RevokePowerOfAttorneyRequest {
        request_id: "retry-1".into(),
        nhs_number: SPACED_NHS.into(),
        attorney_id: "att-1".into(),
        user_id: "user-1".into(),
        expected_stream_version: Some(3),
    };
    let hashed = RevokePowerOfAttorneyRequest {
        request_id: String::new(),
        nhs_number: NHS.into(),
        expected_stream_version: None,
        ..revoked.clone()
    };
    pinned(
        &command(&api, revoked).await,
        "RevokePowerOfAttorney",
        &hashed,
        "79f34a10931cdb0977b0b21ef08e8b59efa58e2567cc6de311d5a0002ac49822",
    );

    let granted = GrantPermissionToViewRequest {
        request_id: "retry-1".into(),
        nhs_number: SPACED_NHS.into(),
        organisation_ods: "rkb".into(),
        until: due,
        submitter: attorney(),
        user_id: "user-1".into(),
        expected_stream_version: Some(3),
    };
    let hashed = GrantPermissionToViewRequest {
        request_id: String::new(),
        nhs_number: NHS.into(),
        organisation_ods: "RKB".into(),
        expected_stream_version: None,
        ..granted.clone()
    };
    pinned(
        &command(&api, granted).await,
        "GrantPermissionToView",
        &hashed,
        "dae4d8a1da43604a2c4b699187a5f2f27be1bec28784af9db4cdc3d41e78005c",
    );

    let revoked = RevokePermissionToViewRequest {
        request_id: "retry-1".into(),
        nhs_number: SPACED_NHS.into(),
        organisation_ods: "rkb".into(),
        submitter: attorney(),
        user_id: "user-1".into(),
        expected_stream_version: Some(3),
    };
    let hashed = RevokePermissionToViewRequest {
        request_id: String::new(),
        nhs_number: NHS.into(),
        organisation_ods: "RKB".into(),
        expected_stream_version: None,
        ..revoked.clone()
    };
    pinned(
        &command(&api, revoked).await,
        "RevokePermissionToView",
        &hashed,
        "45dbbdea0063aa9dd9a74851df3c9b51e34ceec74763dee099c15f4d77d471cc",
    );

    let patient = RegisterPatientRequest {
        request_id: "retry-1".into(),
        nhs_number: SPACED_NHS.into(),
        gp_practice_ods: "rkb".into(),
        date_of_birth: "1980-02-29".into(),
        user_id: "user-1".into(),
        expected_stream_version: Some(3),
    };
    let hashed = RegisterPatientRequest {
        request_id: String::new(),
        nhs_number: NHS.into(),
        gp_practice_ods: "RKB".into(),
        expected_stream_version: None,
        ..patient.clone()
    };
    pinned(
        &command(&api, patient).await,
        "RegisterPatient",
        &hashed,
        "41cc9f867714546efae82dc5e78642be4c5be4ba9e9eb76633b15257047e8a8b",
    );

    let started = StartCareRelationshipRequest {
        request_id: "retry-1".into(),
        nhs_number: SPACED_NHS.into(),
        relationship_id: "rel-1".into(),
        organisation_ods: "rkb".into(),
        kind: CareRelationshipKind::Referral.into(),
        user_id: "user-1".into(),
        expected_stream_version: Some(3),
    };
    let hashed = StartCareRelationshipRequest {
        request_id: String::new(),
        nhs_number: NHS.into(),
        organisation_ods: "RKB".into(),
        expected_stream_version: None,
        ..started.clone()
    };
    pinned(
        &command(&api, started).await,
        "StartCareRelationship",
        &hashed,
        "2c226e3d46a182f15a7e845da459b4ed95e8c9aac217261930a1a8c8e9322920",
    );

    let ended = EndCareRelationshipRequest {
        request_id: "retry-1".into(),
        nhs_number: SPACED_NHS.into(),
        relationship_id: "rel-1".into(),
        user_id: "user-1".into(),
        expected_stream_version: Some(3),
    };
    let hashed = EndCareRelationshipRequest {
        request_id: String::new(),
        nhs_number: NHS.into(),
        expected_stream_version: None,
        ..ended.clone()
    };
    pinned(
        &command(&api, ended).await,
        "EndCareRelationship",
        &hashed,
        "62742a09c22ba199cf2be0e9e152de68e6fd7ca8c233a5dc5143ccde87b2c75b",
    );

    let review = RecordAccessReviewRequest {
        request_id: "retry-1".into(),
        decision_id: "01JDECISION".into(),
        outcome: ReviewOutcome::NotJustified.into(),
        note: "no care relationship".into(),
        user_id: "officer-1".into(),
    };
    let hashed = RecordAccessReviewRequest {
        request_id: String::new(),
        ..review.clone()
    };
    let reviewed = command(&api, review).await;
    assert_eq!(reviewed.expected_version, None);
    let Some(icr_proto::pb::event_payload::Kind::AccessReviewed(event)) = &reviewed.payload.kind
    else {
        panic!("{reviewed:?}");
    };
    assert_eq!(event.audit_position, audit_position);
    pinned(
        &reviewed,
        "RecordAccessReview",
        &hashed,
        "2bd31ab450f817295d15d9330d1e252ff36ce31cca9e267dfd409fd6b5b4d5b3",
    );

    let joined = JoinOrganisationRequest {
        request_id: "retry-1".into(),
        ods_code: "rkb".into(),
        name: "Hospital".into(),
        region: "QWU".into(),
        user_id: "admin-1".into(),
        expected_stream_version: Some(3),
    };
    let hashed = JoinOrganisationRequest {
        request_id: String::new(),
        ods_code: "RKB".into(),
        expected_stream_version: None,
        ..joined.clone()
    };
    pinned(
        &command(&api, joined).await,
        "JoinOrganisation",
        &hashed,
        "d4b354d4f04a5fe036b5070ad10648f53756a3c2835e015ddb036d3d7409c8a9",
    );

    let left = LeaveOrganisationRequest {
        request_id: "retry-1".into(),
        ods_code: "rkb".into(),
        user_id: "admin-1".into(),
        expected_stream_version: Some(3),
    };
    let hashed = LeaveOrganisationRequest {
        request_id: String::new(),
        ods_code: "RKB".into(),
        expected_stream_version: None,
        ..left.clone()
    };
    pinned(
        &command(&api, left).await,
        "LeaveOrganisation",
        &hashed,
        "166961208beb39cc5b696f829846d96987411e525507b29843e4b59f29ce4d6c",
    );

    let role = SetRolePolicyRequest {
        request_id: "retry-1".into(),
        role_code: "R8000".into(),
        description: "Clinical practitioner".into(),
        sections: vec![RecordSection::Medications.into()],
        purposes: vec![Purpose::DirectCare.into()],
        clinical: true,
        user_id: "admin-1".into(),
        expected_stream_version: Some(3),
    };
    let hashed = SetRolePolicyRequest {
        request_id: String::new(),
        expected_stream_version: None,
        ..role.clone()
    };
    pinned(
        &command(&api, role).await,
        "SetRolePolicy",
        &hashed,
        "22b1ed2bb69f3f29ce85c1db3798674d2487f8d9d2e4463068d424627a8db2fa",
    );

    let region = SetRegionPolicyRequest {
        request_id: "retry-1".into(),
        region: "QWU".into(),
        name: "Region".into(),
        consent_model: ConsentModel::OptOut.into(),
        review_within_days: 7,
        break_glass: true,
        user_id: "admin-1".into(),
        expected_stream_version: Some(3),
        ..Default::default()
    };
    let hashed = SetRegionPolicyRequest {
        request_id: String::new(),
        expected_stream_version: None,
        ..region.clone()
    };
    pinned(
        &command(&api, region).await,
        "SetRegionPolicy",
        &hashed,
        "c8965e8bb4f5c9c3d206ad036fe2331db7b75ab4826bd8026adc39ac1ac4e024",
    );
}

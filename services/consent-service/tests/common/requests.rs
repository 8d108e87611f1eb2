//! Requests the binary tests send: patients, objections, withdrawals, the
//! care context that lets a clinician see a record, and the clinician's
//! question.

use icr_events::NhsNumber;
use icr_proto::pb::care_context_service_client::CareContextServiceClient;
use icr_proto::pb::submitter::Who;
use icr_proto::pb::{
    AuthorizeRequest, CareRelationshipKind, ObjectionScope, Purpose, RecordObjectionRequest,
    RecordSection, RegisterPatientRequest, Requester, StartCareRelationshipRequest, Submitter,
    WithdrawObjectionRequest,
};

use super::Intercepted;

/// `count` distinct valid NHS numbers.
pub fn patients(count: u32) -> Vec<String> {
    (0..count)
        .map(|n| NhsNumber::synthetic(n).as_string())
        .collect()
}

/// The patient's own direct-care objection.
pub fn objection(request_id: &str, nhs: &str) -> RecordObjectionRequest {
    RecordObjectionRequest {
        request_id: request_id.into(),
        nhs_number: nhs.into(),
        scope: ObjectionScope::DirectCare.into(),
        submitter: Some(Submitter {
            who: Some(Who::Patient(true)),
        }),
        user_id: "pals-officer".into(),
        expected_stream_version: None,
    }
}

/// The patient withdrawing that objection.
pub fn withdrawal(request_id: &str, nhs: &str) -> WithdrawObjectionRequest {
    WithdrawObjectionRequest {
        request_id: request_id.into(),
        nhs_number: nhs.into(),
        scope: ObjectionScope::DirectCare.into(),
        submitter: Some(Submitter {
            who: Some(Who::Patient(true)),
        }),
        user_id: "pals-officer".into(),
        expected_stream_version: None,
    }
}

/// Registers `nhs` at a Coventry practice with an inpatient episode at the
/// hospital (RKB), so that a clinician there is allowed.
pub async fn admit(care: &mut CareContextServiceClient<Intercepted>, nhs: &str) {
    care.register_patient(RegisterPatientRequest {
        request_id: format!("register-{nhs}"),
        nhs_number: nhs.into(),
        gp_practice_ods: "M86003".into(),
        date_of_birth: "1970-01-01".into(),
        user_id: "gp-feed".into(),
        expected_stream_version: None,
    })
    .await
    .expect("register");
    care.start_care_relationship(StartCareRelationshipRequest {
        request_id: format!("episode-{nhs}"),
        nhs_number: nhs.into(),
        relationship_id: format!("ep-{nhs}"),
        organisation_ods: "RKB".into(),
        kind: CareRelationshipKind::InpatientEpisode.into(),
        user_id: "pas-feed".into(),
        expected_stream_version: None,
    })
    .await
    .expect("care relationship");
}

/// A clinician at the hospital (RKB) asks to see `section` of the patient's
/// record for direct care: allowed once [`admit`]ted, unless they object.
pub fn clinician_asks(nhs: &str, section: RecordSection) -> AuthorizeRequest {
    AuthorizeRequest {
        nhs_number: nhs.into(),
        requester: Some(Requester {
            user_id: "dr-1".into(),
            role_code: "R8000".into(),
            organisation_ods: "RKB".into(),
        }),
        section: section.into(),
        purpose: Purpose::DirectCare.into(),
        ..Default::default()
    }
}

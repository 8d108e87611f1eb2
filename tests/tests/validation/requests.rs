//! The valid request of each decision and consent RPC, how to change one
//! field of it, and how to send it and check that it was refused.

use icr_integration_tests::*;
use icr_proto::pb::submitter::Who;
use icr_proto::pb::*;
use tonic::{Code, Status};

/// One request to a decision or consent RPC.
#[derive(Debug, Clone)]
pub(super) enum Call {
    Authorize(AuthorizeRequest),
    Batch(AuthorizeBatchRequest),
    Object(RecordObjectionRequest),
    Withdraw(WithdrawObjectionRequest),
    Status(GetConsentStatusRequest),
    Attorney(RegisterPowerOfAttorneyRequest),
    RevokeAttorney(RevokePowerOfAttorneyRequest),
    Grant(GrantPermissionToViewRequest),
    RevokeGrant(RevokePermissionToViewRequest),
}

pub(super) async fn send(s: &mut Server, call: Call) -> Result<(), Status> {
    match call {
        Call::Authorize(r) => s.decisions.authorize(r).await.map(drop),
        Call::Batch(r) => s.decisions.authorize_batch(r).await.map(drop),
        Call::Object(r) => s.consent.record_objection(r).await.map(drop),
        Call::Withdraw(r) => s.consent.withdraw_objection(r).await.map(drop),
        Call::Status(r) => s.consent.get_consent_status(r).await.map(drop),
        Call::Attorney(r) => s.consent.register_power_of_attorney(r).await.map(drop),
        Call::RevokeAttorney(r) => s.consent.revoke_power_of_attorney(r).await.map(drop),
        Call::Grant(r) => s.consent.grant_permission_to_view(r).await.map(drop),
        Call::RevokeGrant(r) => s.consent.revoke_permission_to_view(r).await.map(drop),
    }
}

/// Sends `call` and says what was wrong, if it was not refused as
/// `InvalidArgument` naming `field`.
pub(super) async fn refused(s: &mut Server, field: &str, call: Call) -> Option<String> {
    let shown = format!("{call:?}");
    match send(s, call).await {
        Err(e)
            if e.code() == Code::InvalidArgument
                && e.message().starts_with(&format!("{field}: ")) =>
        {
            None
        }
        Err(e) => Some(format!(
            "{field}: got {:?} {:?} for {shown}",
            e.code(),
            e.message()
        )),
        Ok(()) => Some(format!("{field}: accepted {shown}")),
    }
}

fn patient() -> Option<Submitter> {
    Some(Submitter {
        who: Some(Who::Patient(true)),
    })
}

pub(super) fn attorney_submitter(id: &str) -> Option<Submitter> {
    Some(Submitter {
        who: Some(Who::AttorneyId(id.into())),
    })
}

fn tomorrow() -> Option<icr_proto::Timestamp> {
    let t = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24);
    Some(icr_proto::Timestamp {
        seconds: t.as_second(),
        nanos: 0,
    })
}

/// Defines `$base()`, a valid `$req`, and `$name(edit)`: that request
/// changed by `edit`, as a `Call`.
macro_rules! valid {
    ($name:ident / $base:ident, $variant:ident, $req:ty, $value:expr) => {
        #[allow(dead_code)]
        pub(super) fn $base() -> $req {
            $value
        }
        pub(super) fn $name(edit: impl FnOnce(&mut $req)) -> Call {
            let mut r = $base();
            edit(&mut r);
            Call::$variant(r)
        }
    };
}

valid!(
    authorize / authorize_request,
    Authorize,
    AuthorizeRequest,
    AuthorizeRequest {
        nhs_number: PATIENT.into(),
        requester: Some(clinician()),
        section: RecordSection::Medications.into(),
        purpose: Purpose::DirectCare.into(),
        source_organisation_ods: String::new(),
        min_log_position: 0,
        ..Default::default()
    }
);
valid!(
    batch / batch_request,
    Batch,
    AuthorizeBatchRequest,
    AuthorizeBatchRequest {
        nhs_number: PATIENT.into(),
        requester: Some(clinician()),
        sections: vec![
            RecordSection::Medications.into(),
            RecordSection::Allergies.into()
        ],
        purpose: Purpose::DirectCare.into(),
        source_organisation_ods: String::new(),
        min_log_position: 0,
        ..Default::default()
    }
);
valid!(
    object / object_request,
    Object,
    RecordObjectionRequest,
    Server::objection(PATIENT)
);
valid!(
    withdraw / withdraw_request,
    Withdraw,
    WithdrawObjectionRequest,
    WithdrawObjectionRequest {
        request_id: request_id(),
        nhs_number: PATIENT.into(),
        scope: ObjectionScope::DirectCare.into(),
        submitter: patient(),
        user_id: "pals-officer".into(),
        expected_stream_version: None,
    }
);
valid!(
    status / status_request,
    Status,
    GetConsentStatusRequest,
    GetConsentStatusRequest {
        nhs_number: PATIENT.into(),
        min_log_position: 0,
    }
);
valid!(
    attorney / attorney_request,
    Attorney,
    RegisterPowerOfAttorneyRequest,
    RegisterPowerOfAttorneyRequest {
        request_id: request_id(),
        nhs_number: PATIENT.into(),
        attorney_id: "opg-1".into(),
        kind: PowerOfAttorneyKind::HealthAndWelfareLpa.into(),
        verified_by: "records-officer".into(),
        valid_from: "2024-01-01".into(),
        valid_until: "2030-12-31".into(),
        user_id: "records-officer".into(),
        expected_stream_version: None,
    }
);
valid!(
    revoke_attorney / revoke_attorney_request,
    RevokeAttorney,
    RevokePowerOfAttorneyRequest,
    RevokePowerOfAttorneyRequest {
        request_id: request_id(),
        nhs_number: PATIENT.into(),
        attorney_id: "opg-1".into(),
        user_id: "records-officer".into(),
        expected_stream_version: None,
    }
);
valid!(
    grant / grant_request,
    Grant,
    GrantPermissionToViewRequest,
    GrantPermissionToViewRequest {
        request_id: request_id(),
        nhs_number: PATIENT.into(),
        organisation_ods: HOSPITAL.into(),
        until: tomorrow(),
        submitter: patient(),
        user_id: "ward-clerk".into(),
        expected_stream_version: None,
    }
);
valid!(
    revoke_grant / revoke_grant_request,
    RevokeGrant,
    RevokePermissionToViewRequest,
    RevokePermissionToViewRequest {
        request_id: request_id(),
        nhs_number: PATIENT.into(),
        organisation_ods: HOSPITAL.into(),
        submitter: patient(),
        user_id: "ward-clerk".into(),
        expected_stream_version: None,
    }
);

//! The questions and reviews the audit review tests send: exceptional
//! accesses by a stranger, the review queue read page by page, and a
//! decision asked at a point in the log.

use icr_integration_tests::*;
use icr_proto::pb::*;

/// Lets clinical roles use break glass and anyone claim a relationship in
/// Coventry and Warwickshire, as a region's policy administrator could.
pub(super) async fn permit_exceptional_access(server: &mut Server) {
    let region = exceptional_access_region_policy();
    server
        .policy
        .set_region_policy(region)
        .await
        .expect("region policy");
}

/// A clinician at a trust with no recorded relationship with the patient.
pub(super) fn stranger() -> Requester {
    Requester {
        user_id: "dr-ed".into(),
        role_code: "R8000".into(),
        organisation_ods: "RLT".into(),
    }
}

pub(super) async fn ask(server: &mut Server, mode: AccessMode, reason: &str) -> Decision {
    let request = AuthorizeRequest {
        nhs_number: PATIENT.into(),
        requester: Some(stranger()),
        section: RecordSection::Allergies.into(),
        purpose: Purpose::DirectCare.into(),
        access_mode: mode.into(),
        access_reason: reason.into(),
        ..Default::default()
    };
    let response = server
        .decisions
        .authorize(request)
        .await
        .expect("authorize");
    response.into_inner().decision.expect("decision")
}

pub(super) async fn queue(server: &mut Server, include_reviewed: bool) -> Vec<ReviewItem> {
    let request = ListReviewQueueRequest {
        page_size: 1,
        page_token: String::new(),
        include_reviewed,
    };
    let mut items = Vec::new();
    let mut request = Some(request);
    while let Some(r) = request.take() {
        let page = server
            .audit
            .list_review_queue(r.clone())
            .await
            .expect("queue");
        let page = page.into_inner();
        items.extend(page.items);
        if !page.next_page_token.is_empty() {
            request = Some(ListReviewQueueRequest {
                page_token: page.next_page_token,
                ..r
            });
        }
    }
    items
}

pub(super) fn review(
    decision_id: &str,
    outcome: ReviewOutcome,
    note: &str,
) -> RecordAccessReviewRequest {
    RecordAccessReviewRequest {
        request_id: request_id(),
        decision_id: decision_id.into(),
        outcome: outcome.into(),
        note: note.into(),
        user_id: "privacy-officer".into(),
    }
}

pub(super) async fn at(server: &mut Server, at: authorize_at_request::At) -> Decision {
    let request = AuthorizeAtRequest {
        request: Some(AuthorizeRequest {
            nhs_number: PATIENT.into(),
            requester: Some(clinician()),
            section: RecordSection::Medications.into(),
            purpose: Purpose::DirectCare.into(),
            ..Default::default()
        }),
        at: Some(at),
    };
    let response = server.audit.authorize_at(request).await.expect("at");
    response.into_inner().decision.expect("decision")
}

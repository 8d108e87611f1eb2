//! The decision audit: every answer, allow and deny, is in the trail before
//! it is given; a patient's access report holds exactly their record's
//! decisions, each marked a view or a refused attempt, or the views alone.

use icr_integration_tests::*;
use icr_proto::pb::*;
use tonic::Code;

async fn decisions(server: &mut Server, from: u64, limit: u64) -> Vec<DecisionRecord> {
    let request = ReadDecisionsRequest {
        from_position: from,
        limit,
        ..Default::default()
    };
    let mut stream = server
        .audit
        .read_decisions(request)
        .await
        .expect("read decisions")
        .into_inner();
    let mut records = Vec::new();
    while let Some(item) = stream.message().await.expect("record") {
        records.extend(item.record);
    }
    records
}

async fn report(server: &mut Server, nhs: &str, page_size: u32) -> Vec<DecisionRecord> {
    let entries = report_entries(server, nhs, page_size, false).await;
    entries.into_iter().filter_map(|e| e.decision).collect()
}

/// Every page of a report; each page's records are its entries' decisions.
async fn report_entries(
    server: &mut Server,
    nhs: &str,
    page_size: u32,
    views_only: bool,
) -> Vec<AccessReportEntry> {
    let mut entries = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = GetAccessReportRequest {
            nhs_number: nhs.into(),
            page_size,
            page_token,
            views_only,
        };
        let page = server
            .audit
            .get_access_report(request)
            .await
            .expect("report")
            .into_inner();
        assert!(page.entries.len() <= page_size as usize);
        let decisions: Vec<_> = page
            .entries
            .iter()
            .filter_map(|e| e.decision.clone())
            .collect();
        assert_eq!(page.records, decisions, "records and entries agree");
        entries.extend(page.entries);
        if page.next_page_token.is_empty() {
            return entries;
        }
        page_token = page.next_page_token;
    }
}

#[tokio::test]
async fn every_decision_is_in_the_trail_with_who_what_why_and_how() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    server.admit(PATIENT).await;
    let allowed_one = server
        .authorize(PATIENT, clinician(), RecordSection::Medications)
        .await;
    let denied_one = server
        .authorize(OTHER_PATIENT, clinician(), RecordSection::Allergies)
        .await;
    let batch = AuthorizeBatchRequest {
        nhs_number: PATIENT.into(),
        requester: Some(clinician()),
        sections: vec![
            RecordSection::MentalHealth.into(),
            RecordSection::Demographics.into(),
        ],
        purpose: Purpose::DirectCare.into(),
        ..Default::default()
    };
    let batch = server
        .decisions
        .authorize_batch(batch)
        .await
        .expect("batch")
        .into_inner()
        .decisions;

    let trail = decisions(&mut server, 0, 0).await;
    let ids: Vec<_> = trail.iter().map(|r| r.decision_id.clone()).collect();
    let given: Vec<_> = [&allowed_one, &denied_one, &batch[0], &batch[1]]
        .iter()
        .map(|d| d.decision_id.clone())
        .collect();
    assert_eq!(ids, given, "every answer, in order");
    assert_eq!(
        trail.iter().map(|r| r.audit_position).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    let first = &trail[0];
    assert_eq!(
        (first.calling_system.as_str(), first.user_id.as_str()),
        ("integration-test", "dr-1")
    );
    assert_eq!(
        (first.role_code.as_str(), first.organisation_ods.as_str()),
        ("R8000", HOSPITAL)
    );
    assert_eq!(
        (first.nhs_number.as_str(), first.section),
        (PATIENT, RecordSection::Medications as i32)
    );
    assert_eq!(first.purpose, Purpose::DirectCare as i32);
    assert!(first.allowed && first.reason == "role_permits_section");
    assert_eq!(first.log_position, allowed_one.log_position);
    assert!(first.recorded_at.is_some());
    assert!(!trail[1].allowed && trail[1].reason == denied_one.reason);

    let window = decisions(&mut server, 2, 2).await;
    assert_eq!(
        window.iter().map(|r| r.audit_position).collect::<Vec<_>>(),
        vec![2, 3]
    );
    let rest = decisions(&mut server, 4, 0).await;
    assert_eq!(
        rest.iter().map(|r| r.audit_position).collect::<Vec<_>>(),
        vec![4],
        "resume: no gap, no repeat"
    );
}

#[tokio::test]
async fn a_patients_report_holds_exactly_their_views_in_time_order_paged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    server.admit(PATIENT).await;
    let mut mine = Vec::new();
    for (i, section) in [
        RecordSection::Medications,
        RecordSection::Allergies,
        RecordSection::Conditions,
    ]
    .into_iter()
    .enumerate()
    {
        mine.push(
            server
                .authorize(PATIENT, clinician(), section)
                .await
                .decision_id,
        );
        server.authorize(OTHER_PATIENT, clinician(), section).await;
        if i == 1 {
            server
                .consent
                .record_objection(Server::objection(PATIENT))
                .await
                .expect("object");
        }
    }
    let records = report(&mut server, PATIENT, 2).await;
    assert_eq!(
        records
            .iter()
            .map(|r| r.decision_id.clone())
            .collect::<Vec<_>>(),
        mine
    );
    assert!(records.iter().all(|r| r.nhs_number == PATIENT));
    assert!(
        records
            .windows(2)
            .all(|w| w[0].audit_position < w[1].audit_position)
    );
    assert_eq!(
        records[2].reason, "objection_active",
        "denied views are reported too"
    );
    assert!(report(&mut server, "4010232137", 10).await.is_empty());
}

#[tokio::test]
async fn the_report_marks_views_and_refused_attempts_and_can_list_the_views_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    server.admit(PATIENT).await;
    // A clinician at a trust with no care relationship with the patient.
    let stranger = Requester {
        organisation_ods: "RLT".into(),
        ..clinician()
    };
    let mut views = Vec::new();
    let mut everything = Vec::new();
    for section in [
        RecordSection::Medications,
        RecordSection::Allergies,
        RecordSection::Conditions,
    ] {
        let view = server.authorize(PATIENT, clinician(), section).await;
        assert!(allowed(&view), "{}", view.reason);
        let attempt = server.authorize(PATIENT, stranger.clone(), section).await;
        assert!(!allowed(&attempt), "{}", attempt.reason);
        views.push(view.decision_id.clone());
        everything.extend([(view.decision_id, true), (attempt.decision_id, false)]);
    }
    server
        .consent
        .record_objection(Server::objection(PATIENT))
        .await
        .expect("object");
    let after = server
        .authorize(PATIENT, clinician(), RecordSection::Medications)
        .await;
    assert_eq!(after.reason, "objection_active");
    everything.push((after.decision_id, false));

    // By default: views and refused attempts, each marked.
    let entries = report_entries(&mut server, PATIENT, 2, false).await;
    let marked: Vec<_> = entries
        .iter()
        .map(|e| {
            let decision = e.decision.as_ref().expect("decision");
            (decision.decision_id.clone(), e.mark())
        })
        .collect();
    let expected: Vec<_> = everything
        .iter()
        .map(|(id, viewed)| {
            let mark = if *viewed {
                AccessReportMark::Viewed
            } else {
                AccessReportMark::Refused
            };
            (id.clone(), mark)
        })
        .collect();
    assert_eq!(marked, expected);

    // Views only: everyone who has seen the record, paged across the
    // refused attempts between them.
    for page_size in [1, 2, 100] {
        let seen = report_entries(&mut server, PATIENT, page_size, true).await;
        assert!(seen.iter().all(|e| e.mark() == AccessReportMark::Viewed));
        let ids: Vec<_> = seen
            .iter()
            .filter_map(|e| e.decision.as_ref())
            .map(|d| d.decision_id.clone())
            .collect();
        assert_eq!(ids, views, "page size {page_size}");
    }
    // A patient with refused attempts only has seen no one.
    server
        .authorize(OTHER_PATIENT, clinician(), RecordSection::Allergies)
        .await;
    assert!(
        report_entries(&mut server, OTHER_PATIENT, 10, true)
            .await
            .is_empty()
    );
    assert_eq!(
        report_entries(&mut server, OTHER_PATIENT, 10, false)
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn the_trail_survives_a_restart_and_bad_report_requests_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    server.admit(PATIENT).await;
    let id = server
        .authorize(PATIENT, clinician(), RecordSection::Medications)
        .await
        .decision_id;
    server.stop().await.expect("stop");
    let mut server = Server::start(dir.path()).await;
    let trail = decisions(&mut server, 0, 0).await;
    assert_eq!(
        trail
            .iter()
            .map(|r| r.decision_id.clone())
            .collect::<Vec<_>>(),
        vec![id]
    );
    let next = server
        .authorize(PATIENT, clinician(), RecordSection::Allergies)
        .await;
    assert_eq!(
        decisions(&mut server, 2, 0).await[0].decision_id,
        next.decision_id
    );

    let bad_token = GetAccessReportRequest {
        nhs_number: PATIENT.into(),
        page_size: 10,
        page_token: "x".into(),
        views_only: false,
    };
    let error = server.audit.get_access_report(bad_token).await.unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    assert!(error.message().starts_with("page_token"));
    let too_big = GetAccessReportRequest {
        nhs_number: PATIENT.into(),
        page_size: 5000,
        page_token: String::new(),
        views_only: true,
    };
    assert!(
        server
            .audit
            .get_access_report(too_big)
            .await
            .unwrap_err()
            .message()
            .starts_with("page_size")
    );
    let bad_nhs = GetAccessReportRequest {
        nhs_number: "9434765918".into(),
        page_size: 10,
        page_token: String::new(),
        views_only: false,
    };
    assert!(
        server
            .audit
            .get_access_report(bad_nhs)
            .await
            .unwrap_err()
            .message()
            .starts_with("nhs_number")
    );
}

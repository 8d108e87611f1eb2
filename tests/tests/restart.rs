//! Durability across restarts, and projections equal to a fresh replay.
//!
//! A random sequence of consent and care commands runs against the real
//! server. Then: a fold of the log read back through ReadEvents equals what
//! the live server reports, and a restart on the same directory keeps every
//! acknowledged event and decides the same.

use icr_events::NhsNumber;
use icr_integration_tests::*;
use icr_projections::Projections;
use icr_proto::pb::submitter::Who;
use icr_proto::pb::*;
use proptest::prelude::*;

const PATIENTS: [&str; 3] = [PATIENT, OTHER_PATIENT, "4010232137"];
const SECTIONS: [RecordSection; 3] = [
    RecordSection::Medications,
    RecordSection::MentalHealth,
    RecordSection::Demographics,
];

/// One command of the random sequence.
#[derive(Debug, Clone)]
enum Op {
    Register(usize),
    Object(usize),
    Withdraw(usize),
    Start(usize, usize),
    End(usize, usize),
    Attorney(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3usize).prop_map(Op::Register),
        (0..3usize).prop_map(Op::Object),
        (0..3usize).prop_map(Op::Withdraw),
        (0..3usize, 0..2usize).prop_map(|(p, e)| Op::Start(p, e)),
        (0..3usize, 0..2usize).prop_map(|(p, e)| Op::End(p, e)),
        (0..3usize).prop_map(Op::Attorney),
    ]
}

fn patient() -> Option<Submitter> {
    Some(Submitter {
        who: Some(Who::Patient(true)),
    })
}

/// Runs one command; refusals by current state are part of the game, any
/// other error fails the test.
async fn run(server: &mut Server, op: &Op) {
    let user = "feed".to_string();
    let outcome = match op.clone() {
        Op::Register(p) => server
            .care
            .register_patient(RegisterPatientRequest {
                request_id: request_id(),
                nhs_number: PATIENTS[p].into(),
                gp_practice_ods: PRACTICE.into(),
                date_of_birth: "1980-05-05".into(),
                user_id: user,
                expected_stream_version: None,
            })
            .await
            .map(drop),
        Op::Object(p) => server
            .consent
            .record_objection(Server::objection(PATIENTS[p]))
            .await
            .map(drop),
        Op::Withdraw(p) => server
            .consent
            .withdraw_objection(WithdrawObjectionRequest {
                request_id: request_id(),
                nhs_number: PATIENTS[p].into(),
                scope: ObjectionScope::DirectCare.into(),
                submitter: patient(),
                user_id: user,
                expected_stream_version: None,
            })
            .await
            .map(drop),
        Op::Start(p, e) => server
            .care
            .start_care_relationship(StartCareRelationshipRequest {
                request_id: request_id(),
                nhs_number: PATIENTS[p].into(),
                relationship_id: format!("ep-{e}"),
                organisation_ods: [HOSPITAL, "RLT"][e].into(),
                kind: CareRelationshipKind::OutpatientEpisode.into(),
                user_id: user,
                expected_stream_version: None,
            })
            .await
            .map(drop),
        Op::End(p, e) => server
            .care
            .end_care_relationship(EndCareRelationshipRequest {
                request_id: request_id(),
                nhs_number: PATIENTS[p].into(),
                relationship_id: format!("ep-{e}"),
                user_id: user,
                expected_stream_version: None,
            })
            .await
            .map(drop),
        Op::Attorney(p) => server
            .consent
            .register_power_of_attorney(RegisterPowerOfAttorneyRequest {
                request_id: request_id(),
                nhs_number: PATIENTS[p].into(),
                attorney_id: "att-1".into(),
                kind: PowerOfAttorneyKind::HealthAndWelfareLpa.into(),
                verified_by: "officer".into(),
                valid_from: "2020-01-01".into(),
                valid_until: String::new(),
                user_id: user,
                expected_stream_version: None,
            })
            .await
            .map(drop),
    };
    if let Err(status) = outcome {
        let expected = [tonic::Code::FailedPrecondition, tonic::Code::AlreadyExists];
        assert!(expected.contains(&status.code()), "{op:?}: {status:?}");
    }
}

/// What the server says about every patient: status and decisions.
async fn observe(server: &mut Server) -> Vec<(GetConsentStatusResponse, Vec<(i32, String)>)> {
    let mut seen = Vec::new();
    for nhs in PATIENTS {
        let request = GetConsentStatusRequest {
            nhs_number: nhs.into(),
            min_log_position: 0,
        };
        let status = server
            .consent
            .get_consent_status(request)
            .await
            .expect("status")
            .into_inner();
        let mut decisions = Vec::new();
        for section in SECTIONS {
            let d = server.authorize(nhs, clinician(), section).await;
            decisions.push((d.outcome, d.reason));
        }
        seen.push((status, decisions));
    }
    seen
}

/// Folds the log read through ReadEvents, as an auditor would.
async fn replay(server: &mut Server) -> Projections {
    let mut projections = Projections::default();
    for event in server.all_events().await {
        projections
            .apply(&event)
            .expect("events arrive gapless and in order");
    }
    projections
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(8)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn replay_equals_live_state_and_restart_changes_nothing(ops in prop::collection::vec(op(), 1..25)) {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(async {
            let dir = tempfile::tempdir().expect("tempdir");
            let mut server = Server::start(dir.path()).await;
            for op in &ops {
                run(&mut server, op).await;
            }
            let live = observe(&mut server).await;
            let replayed = replay(&mut server).await;
            for (nhs, (status, _)) in PATIENTS.iter().zip(&live) {
                let number: NhsNumber = nhs.parse().expect("nhs");
                let folded = replayed.patient(&number).cloned().unwrap_or_default();
                assert_eq!(status.stream_version, folded.version, "{nhs}");
                assert_eq!(status.active_objections, folded.objections().collect::<Vec<_>>());
                let relationships: Vec<_> = folded.care_relationships().iter().map(|r| r.relationship_id.to_string()).collect();
                let live_relationships: Vec<_> = status.care_relationships.iter().map(|r| r.relationship_id.clone()).collect();
                assert_eq!(live_relationships, relationships);
                assert_eq!(status.powers_of_attorney.len(), folded.attorneys().count());
                assert_eq!(status.log_position, replayed.position());
            }
            let events_before = server.all_events().await;
            server.stop().await.expect("clean stop");

            let mut restarted = Server::start(dir.path()).await;
            assert_eq!(restarted.all_events().await, events_before);
            assert_eq!(observe(&mut restarted).await, live);
            restarted.stop().await.expect("clean stop");
        });
    }
}

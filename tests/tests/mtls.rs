//! Mutual TLS: every caller presents a certificate from the configured CA,
//! and its kind decides the one service it may call. Every RPC is tried by
//! every kind of caller, by a caller with no certificate and by one the
//! callers file does not name: only the allowed pair succeeds.

#[path = "mtls/rpcs.rs"]
mod rpcs;

use std::collections::BTreeSet;

use consent_service::{Options, PolicyFiles};
use icr_integration_tests::pki::{Pki, channel};
use icr_integration_tests::*;
use icr_proto::pb::*;
use prost::Message;
use rpcs::{Clients, RPCS, State, call, setup_break_glass};
use tonic::Code;

const CALLERS: &str = r#"
[[callers]]
identity = "viewer.test"
kind = "record_viewer"
organisations = ["RKB"]

[[callers]]
identity = "patient-app.test"
kind = "patient_facing"

[[callers]]
identity = "gp-feed.test"
kind = "care_feed"

[[callers]]
identity = "policy.test"
kind = "policy_admin"

[[callers]]
identity = "auditor.test"
kind = "auditor"
"#;

/// Each configured identity and the service its kind may call.
const KINDS: [(&str, &str); 5] = [
    ("viewer.test", "AccessDecisionService"),
    ("patient-app.test", "ConsentService"),
    ("gp-feed.test", "CareContextService"),
    ("policy.test", "PolicyAdminService"),
    ("auditor.test", "AuditService"),
];

struct Fixture {
    server: Server,
    pki: Pki,
    endpoint: String,
    _dir: tempfile::TempDir,
}

impl Fixture {
    async fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = Pki::new("throwaway test CA");
        let mut options = Options::new(dir.path(), PolicyFiles::built_in());
        options.tls = Some(pki.server_tls(CALLERS));
        let server = Server::start_options(options).await;
        let endpoint = server.endpoint.replace("http://", "https://");
        Self {
            server,
            pki,
            endpoint,
            _dir: dir,
        }
    }

    /// Clients presenting a certificate for `identity` (none if `None`).
    fn clients(&self, identity: Option<&str>) -> Clients {
        let issued = identity.map(|id| self.pki.client(id));
        Clients::new(channel(&self.endpoint, &self.pki.ca_pem(), issued.as_ref()))
    }
}

/// Every method the API's descriptor declares, as (service, method).
fn declared_rpcs() -> BTreeSet<(String, String)> {
    let set = prost_types::FileDescriptorSet::decode(icr_proto::FILE_DESCRIPTOR_SET)
        .expect("descriptor set");
    set.file
        .iter()
        .flat_map(|file| &file.service)
        .flat_map(|service| {
            service
                .method
                .iter()
                .map(move |m| (service.name().to_owned(), m.name().to_owned()))
        })
        .collect()
}

#[tokio::test]
async fn only_the_allowed_caller_kind_may_call_each_rpc() {
    let fixture = Fixture::start().await;
    let covered: BTreeSet<_> = RPCS
        .iter()
        .map(|(rpc, service)| ((*service).to_owned(), (*rpc).to_owned()))
        .collect();
    assert_eq!(covered, declared_rpcs(), "the matrix covers every RPC");

    let mut kinds: Vec<_> = KINDS
        .iter()
        .map(|&(id, service)| (id, service, fixture.clients(Some(id))))
        .collect();
    let mut anonymous = fixture.clients(None);
    let mut stranger = fixture.clients(Some("stranger.test"));
    let mut state = State::default();
    let mut pairs = 0;
    for (rpc, service) in RPCS {
        if rpc == "ReadEvents" {
            let [viewer, _, feed, ..] = &mut kinds[..] else {
                unreachable!()
            };
            setup_break_glass(&mut feed.2, &mut viewer.2, &mut state).await;
        }
        let refused = call(rpc, &mut anonymous, &mut state).await.expect_err(rpc);
        assert_eq!(
            refused.code(),
            Code::Unauthenticated,
            "{rpc} without a certificate: {refused:?}"
        );
        let refused = call(rpc, &mut stranger, &mut state).await.expect_err(rpc);
        assert!(
            refused.message().contains("not a configured caller"),
            "{refused:?}"
        );
        assert_eq!(
            refused.code(),
            Code::PermissionDenied,
            "{rpc} by an unknown identity: {refused:?}"
        );
        pairs += 2;
        for (identity, allowed_service, clients) in &mut kinds {
            let outcome = call(rpc, clients, &mut state).await;
            pairs += 1;
            if *allowed_service == service {
                if let Err(status) = outcome {
                    panic!("{identity} may call {rpc}: {status:?}");
                }
            } else {
                let status = outcome.expect_err("refused");
                assert_eq!(
                    status.code(),
                    Code::PermissionDenied,
                    "{identity} calling {rpc}: {status:?}"
                );
                // Refused by kind at the door, not by a handler.
                assert!(status.message().contains("may not call"), "{status:?}");
            }
        }
    }
    println!(
        "mtls: {pairs} (RPC, caller) pairs checked over {} RPCs",
        RPCS.len()
    );
    fixture.server.stop().await.expect("clean stop");
}

fn asked_for(organisation: &str) -> AuthorizeRequest {
    AuthorizeRequest {
        nhs_number: PATIENT.into(),
        requester: Some(Requester {
            organisation_ods: organisation.into(),
            ..clinician()
        }),
        section: RecordSection::Allergies.into(),
        purpose: Purpose::DirectCare.into(),
        ..Default::default()
    }
}

async fn decisions_recorded(auditor: &mut Clients) -> Vec<DecisionRecord> {
    let mut stream = auditor
        .audit
        .read_decisions(ReadDecisionsRequest {
            from_position: 1,
            ..Default::default()
        })
        .await
        .expect("read decisions")
        .into_inner();
    let mut records = Vec::new();
    while let Some(item) = stream.message().await.expect("record") {
        records.extend(item.record);
    }
    records
}

#[tokio::test]
async fn a_viewer_asks_only_for_its_own_organisations_and_is_recorded_by_its_certificate() {
    let fixture = Fixture::start().await;
    let mut viewer = fixture.clients(Some("viewer.test"));
    let mut auditor = fixture.clients(Some("auditor.test"));

    // Another organisation: refused before anything is decided or recorded.
    let refused = viewer
        .decisions
        .authorize(asked_for("RLT"))
        .await
        .expect_err("RLT is not the viewer's");
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    assert!(
        refused.message().contains("requester.organisation_ods"),
        "{refused:?}"
    );
    let batch = AuthorizeBatchRequest {
        nhs_number: PATIENT.into(),
        requester: asked_for("RLT").requester,
        sections: vec![RecordSection::Allergies.into()],
        purpose: Purpose::DirectCare.into(),
        ..Default::default()
    };
    let refused = viewer.decisions.authorize_batch(batch).await;
    assert_eq!(refused.expect_err("batch").code(), Code::PermissionDenied);
    assert!(
        decisions_recorded(&mut auditor).await.is_empty(),
        "nothing recorded"
    );

    // Its own organisation, with a forged calling-system header: decided,
    // and recorded under the certificate's identity.
    let mut request = tonic::Request::new(asked_for(HOSPITAL));
    request.metadata_mut().insert(
        consent_service::CALLING_SYSTEM_HEADER,
        "forged".parse().expect("ascii"),
    );
    viewer
        .decisions
        .authorize(request)
        .await
        .expect("own organisation");
    let records = decisions_recorded(&mut auditor).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].calling_system, "viewer.test");

    // A write, with the same forgery: the event's actor is the certificate.
    let mut patient_app = fixture.clients(Some("patient-app.test"));
    let mut request = tonic::Request::new(Server::objection(PATIENT));
    request.metadata_mut().insert(
        consent_service::CALLING_SYSTEM_HEADER,
        "forged".parse().expect("ascii"),
    );
    let written = patient_app.consent.record_objection(request).await;
    let position = write_position(written.expect("objection").into_inner().result);
    let mut stream = auditor
        .audit
        .read_events(ReadEventsRequest {
            from_position: position,
            limit: 1,
            ..Default::default()
        })
        .await
        .expect("read events")
        .into_inner();
    let event = stream
        .message()
        .await
        .expect("event")
        .and_then(|r| r.event)
        .expect("event");
    let actor = event.actor.expect("actor");
    assert_eq!(actor.calling_system, "patient-app.test");
    fixture.server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn every_configured_caller_may_check_health_and_no_one_without_a_certificate() {
    let fixture = Fixture::start().await;
    let ask = || tonic_health::pb::HealthCheckRequest::default();
    for (identity, _) in KINDS {
        let issued = fixture.pki.client(identity);
        let channel = channel(&fixture.endpoint, &fixture.pki.ca_pem(), Some(&issued));
        let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
        let answer = health.check(ask()).await.expect("health");
        assert_eq!(answer.into_inner().status, 1, "{identity}: SERVING");
    }
    let channel = channel(&fixture.endpoint, &fixture.pki.ca_pem(), None);
    let refused = tonic_health::pb::health_client::HealthClient::new(channel)
        .check(ask())
        .await
        .expect_err("no certificate");
    assert_eq!(refused.code(), Code::Unauthenticated);
    fixture.server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn a_certificate_from_another_ca_or_plain_text_gets_no_answer() {
    let fixture = Fixture::start().await;
    let impostor_ca = Pki::new("impostor CA");
    let forged = impostor_ca.client("viewer.test");
    let mut impostor = Clients::new(channel(
        &fixture.endpoint,
        &fixture.pki.ca_pem(),
        Some(&forged),
    ));
    let refused = impostor
        .decisions
        .authorize(asked_for(HOSPITAL))
        .await
        .expect_err("an untrusted certificate is refused at the handshake");
    assert!(format!("{refused:?}").contains("UnknownCA"), "{refused:?}");

    let mut plain = fixture.server.decisions.clone();
    let refused = plain
        .authorize(asked_for(HOSPITAL))
        .await
        .expect_err("plain text");
    assert!(
        matches!(refused.code(), Code::Unavailable | Code::Unknown),
        "a transport error, not an answer: {refused:?}"
    );

    let mut auditor = fixture.clients(Some("auditor.test"));
    assert!(decisions_recorded(&mut auditor).await.is_empty());
    fixture.server.stop().await.expect("clean stop");
}

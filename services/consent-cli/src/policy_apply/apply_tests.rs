//! Given a plan read from the real service, when an administrator changes
//! a stream of the plan before it is applied, then apply stops at that
//! change, overwrites nothing and sends nothing further.

use std::path::Path;

use consent_service::{Options, PolicyFiles};
use icr_proto::pb::JoinOrganisationRequest;
use icr_proto::pb::event_payload::Kind;
use tokio::sync::oneshot;
use tonic::transport::Endpoint;

use super::*;

/// The real service, started with no policy in its log.
struct Service {
    channel: Channel,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Service {
    async fn start(data_dir: &Path) -> Self {
        let mut files = PolicyFiles::built_in();
        files.pack_name = "empty".to_owned();
        files.pack = "[pack]\nname = \"empty\"\ndescription = \"no policy yet\"\n".to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(consent_service::run(
            listener,
            Options::new(data_dir, files),
            async {
                let _ = stopped.await;
            },
        ));
        let channel = Endpoint::from_shared(endpoint)
            .expect("endpoint")
            .connect()
            .await
            .expect("connect");
        Self {
            channel,
            stop,
            task,
        }
    }

    /// Every event's (stream, request id), in log order.
    async fn log(&self, caller: &Caller) -> Vec<(String, String)> {
        let mut log = Vec::new();
        let request = ReadEventsRequest {
            from_position: 1,
            ..ReadEventsRequest::default()
        };
        events::read_events(self.channel.clone(), caller, request, |message| {
            if let Replayed::Item(event) = message {
                log.push((event.stream, event.request_id));
            }
            Ok(())
        })
        .await
        .expect("read the log");
        log
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.expect("join").expect("clean stop");
    }
}

#[tokio::test]
async fn a_stream_changed_after_the_plan_was_read_stops_apply_there() {
    let dir = tempfile::tempdir().expect("tempdir");
    let service = Service::start(dir.path()).await;
    let caller = Caller::new("policy-apply-test", "ig-lead").expect("caller");
    let policies = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies"));
    let files = PolicyFiles::from_dir(policies, "coventry-warwickshire").expect("read the pack");
    let desired = files.pack_events().expect("parse the pack");

    let current = read_current(service.channel.clone(), &caller)
        .await
        .expect("read");
    let planned = plan::plan(&files.pack_name, &desired, &current).expect("one region");
    let stale = planned
        .changes
        .iter()
        .position(|c| c.action() == "join-org")
        .expect("the pack joins organisations");
    assert!(stale > 0, "some changes come before it: {planned:?}");
    let Some(Kind::OrganisationJoined(joined)) = &planned.changes[stale].payload.kind else {
        unreachable!("a join");
    };

    // Meanwhile an administrator joins the same organisation, differently.
    let meanwhile = JoinOrganisationRequest {
        request_id: "administrator-meanwhile".to_owned(),
        ods_code: joined.ods_code.clone(),
        name: format!("{} (renamed meanwhile)", joined.name),
        region: joined.region.clone(),
        user_id: "ig-lead".to_owned(),
        expected_stream_version: None,
    };
    PolicyAdminServiceClient::new(service.channel.clone())
        .join_organisation(caller.request(meanwhile))
        .await
        .expect("the administrator's change");

    let error = apply(
        service.channel.clone(),
        &caller,
        &planned,
        Output::new(true),
    )
    .await
    .expect_err("a stale plan is refused");
    let message = format!("{error:#}");
    let stream = &planned.changes[stale].stream;
    assert!(
        message.starts_with(&format!(
            "{stale} of {} changes applied, nothing further sent",
            planned.changes.len()
        )),
        "{message}"
    );
    assert!(
        message.contains(&format!("{stream} changed since the plan was read")),
        "{message}"
    );
    assert!(
        message.contains("Run the same command again to plan against the service's current policy"),
        "{message}"
    );

    // The changes before it were made; the administrator's stays; nothing
    // after it was sent.
    let log = service.log(&caller).await;
    let expected: Vec<(String, String)> = planned.changes[..stale]
        .iter()
        .map(|c| (c.stream.clone(), c.request_id.clone()))
        .chain([(stream.clone(), "administrator-meanwhile".to_owned())])
        .collect();
    let mut log_sorted = log.clone();
    log_sorted.sort();
    let mut expected_sorted = expected;
    expected_sorted.sort();
    assert_eq!(log_sorted, expected_sorted);

    // Planned again, the administrator's change is in plain view.
    let current = read_current(service.channel.clone(), &caller)
        .await
        .expect("read");
    let again = plan::plan(&files.pack_name, &desired, &current).expect("one region");
    let change = again
        .changes
        .iter()
        .find(|c| &c.stream == stream)
        .expect("the organisation is planned again");
    assert_eq!((change.why, change.version), (plan::Why::Changed, 1));

    service.stop().await;
}

//! Property tests: arbitrary requests sent to the real handlers (through
//! the service traits, without the transport) over a real log. Whatever
//! the fields hold — unicode, control characters, huge strings, any number,
//! any enum value — no handler panics, every refusal is `InvalidArgument`
//! naming a field of that request (or a state refusal a valid request can
//! meet), and no refusal repeats more than a short message.
//!
//! Cases: 256 per property by default; `PROPTEST_CASES` sets the number
//! (`scripts/proptest-long.sh` runs 100,000). Audit and policy RPCs:
//! `props_audit.rs`.

use std::sync::{Arc, OnceLock};

pub(super) use icr_events::arbitrary::{enum_value, timestamp};
use icr_log::SledLog;
use icr_projections::Projections;
use icr_proto::pb::access_decision_service_server::AccessDecisionService;
use icr_proto::pb::care_context_service_server::CareContextService;
use icr_proto::pb::consent_service_server::ConsentService;
use icr_proto::pb::submitter::Who;
use icr_proto::pb::*;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use tonic::{Code, Request, Status};

use crate::PolicyFiles;
use crate::api::Api;
use crate::api::servers::Handle;
use crate::status::ServiceError;
use crate::view::View;

/// A service over a temporary log with the default policy pack loaded.
pub(super) struct Fixture {
    pub(super) runtime: tokio::runtime::Runtime,
    pub(super) handle: Handle<SledLog>,
    _dir: tempfile::TempDir,
    _stopping: tokio::sync::watch::Sender<bool>,
}

/// One service shared by every property of the test binary.
pub(super) fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("tempdir");
        let log = SledLog::open(dir.path()).expect("log");
        let files = PolicyFiles::built_in();
        let view = View::starting_from(Projections::default(), crate::faults::Faults::default());
        runtime.spawn(view.clone().follow(log.clone(), files.clone()));
        runtime
            .block_on(crate::startup::load_pack_if_new(&log, &view, &files))
            .expect("policy pack");
        let (stopping, stopped) = tokio::sync::watch::channel(false);
        let handle = Handle(Api::new(log, Arc::clone(&view), files, stopped));
        Fixture {
            runtime,
            handle,
            _dir: dir,
            _stopping: stopping,
        }
    })
}

/// Runs one handler call on the shared service.
pub(super) fn call<T>(f: impl Future<Output = Result<T, Status>>) -> Result<T, Status> {
    fixture().runtime.block_on(f)
}

/// A request as the access layer passes it on without TLS: a record viewer
/// must come with its caller, or it is refused before validation.
fn as_development<T>(mut request: Request<T>) -> Request<T> {
    let caller = crate::access::Caller::development("props");
    request.extensions_mut().insert(Arc::new(caller));
    request
}

/// Longest refusal message allowed: a sentence and a short echo.
const MAX_MESSAGE: usize = 1024;

/// The field path a refusal names, with list indices dropped
/// (`sections[3]` → `sections`).
fn named_field(message: &str) -> String {
    let field = message.split(": ").next().unwrap_or_default();
    let mut out = String::with_capacity(field.len());
    let mut in_index = false;
    for c in field.chars() {
        match c {
            '[' => in_index = true,
            ']' => in_index = false,
            c if !in_index => out.push(c),
            _ => {}
        }
    }
    out
}

/// Checks one outcome: success, a state refusal, or `InvalidArgument`
/// naming one of `fields`; never a long message.
pub(super) fn judged<T>(result: Result<T, Status>, fields: &[&str]) -> Result<(), TestCaseError> {
    let Err(status) = result else {
        return Ok(());
    };
    prop_assert!(
        status.message().len() <= MAX_MESSAGE,
        "a {}-byte message",
        status.message().len()
    );
    match status.code() {
        Code::InvalidArgument => {
            let field = named_field(status.message());
            prop_assert!(
                fields.contains(&field.as_str()),
                "names {field:?}, not a field of the request: {}",
                status.message()
            );
        }
        Code::FailedPrecondition | Code::AlreadyExists | Code::Aborted => {}
        code => prop_assert!(false, "{code:?}: {}", status.message()),
    }
    Ok(())
}

/// Text for a field: often one of `valid`, otherwise arbitrary unicode
/// (control characters included), code-like, or huge.
pub(super) fn text(valid: &'static [&'static str]) -> BoxedStrategy<String> {
    prop_oneof![
        4 => prop::sample::select(valid).prop_map(str::to_owned),
        2 => any::<String>(),
        1 => "[A-Z0-9]{0,12}",
        1 => "[ -~]{0,300}",
        1 => (any::<char>(), 0usize..6000).prop_map(|(c, n)| c.to_string().repeat(n)),
    ]
    .boxed()
}

/// A list of `item`s, usually short, sometimes longer than any limit.
pub(super) fn list<T: std::fmt::Debug + 'static>(item: BoxedStrategy<T>) -> BoxedStrategy<Vec<T>> {
    prop_oneof![
        4 => prop::collection::vec(item.clone(), 0..4),
        1 => prop::collection::vec(item, 0..200),
    ]
    .boxed()
}

pub(super) const NHS: &[&str] = &["9434765919", "9434765870", "", "9434765918"];
pub(super) const IDS: &[&str] = &["dr-1", "req-1", "pals-officer", "ep-1", ""];
pub(super) const ODS: &[&str] = &["RKB", "M86003", "RYA", ""];
pub(super) const ROLES: &[&str] = &["R8000", "R0260", "R8003"];
pub(super) const DATES: &[&str] = &["1970-01-01", "2025-06-01", "2030-12-31", ""];
pub(super) const REASONS: &[&str] = &["", "unconscious at the roadside"];

fn requester() -> BoxedStrategy<Option<Requester>> {
    let some = (text(IDS), text(ROLES), text(ODS)).prop_map(|(user_id, role_code, ods)| {
        Some(Requester {
            user_id,
            role_code,
            organisation_ods: ods,
        })
    });
    prop_oneof![1 => Just(None), 6 => some].boxed()
}

fn submitter() -> BoxedStrategy<Option<Submitter>> {
    prop_oneof![
        1 => Just(None),
        1 => Just(Some(Submitter { who: None })),
        3 => Just(Some(Submitter { who: Some(Who::Patient(true)) })),
        2 => text(IDS).prop_map(|id| Some(Submitter { who: Some(Who::AttorneyId(id)) })),
    ]
    .boxed()
}

/// A version expectation: none, small, or anything.
fn version() -> BoxedStrategy<Option<u64>> {
    prop_oneof![2 => Just(None), 1 => (0u64..4).prop_map(Some), 1 => any::<u64>().prop_map(Some)]
        .boxed()
}

const QUESTION: &[&str] = &[
    "nhs_number",
    "requester",
    "requester.user_id",
    "requester.role_code",
    "requester.organisation_ods",
    "purpose",
    "source_organisation_ods",
    "access_mode",
    "access_reason",
];

/// The arbitrary parts of an access question, shared by both RPCs.
type Asked = (String, Option<Requester>, i32, String, i32, String);

pub(super) fn asked() -> impl Strategy<Value = Asked> {
    (
        text(NHS),
        requester(),
        enum_value(),
        text(ODS),
        enum_value(),
        text(REASONS),
    )
}

/// An arbitrary Authorize request (decided at the current position: a
/// minimum beyond the head would only wait).
pub(super) fn authorize_request() -> impl Strategy<Value = AuthorizeRequest> {
    (asked(), enum_value()).prop_map(|((nhs, requester, purpose, source, mode, reason), s)| {
        AuthorizeRequest {
            nhs_number: nhs,
            requester,
            section: s,
            purpose,
            source_organisation_ods: source,
            min_log_position: 0,
            access_mode: mode,
            access_reason: reason,
        }
    })
}

const WRITE: &[&str] = &["request_id", "nhs_number", "user_id", "x-calling-system"];

fn write_fields(more: &[&'static str]) -> Vec<&'static str> {
    WRITE.iter().chain(more).copied().collect()
}

proptest! {
    #[test]
    fn authorize_refuses_only_by_naming_a_field(req in authorize_request(), header in text(IDS)) {
        let mut request = as_development(Request::new(req));
        if let Ok(value) = header.parse() {
            request.metadata_mut().insert(crate::CALLING_SYSTEM_HEADER, value);
        }
        let h = &fixture().handle;
        let fields = [QUESTION, &["section", "x-calling-system"]].concat();
        judged(call(h.authorize(request)), &fields)?;
    }

    #[test]
    fn authorize_batch_refuses_only_by_naming_a_field(
        (nhs, requester, purpose, source, mode, reason) in asked(),
        sections in list(enum_value()),
    ) {
        let req = AuthorizeBatchRequest {
            nhs_number: nhs, requester, sections, purpose, source_organisation_ods: source,
            min_log_position: 0, access_mode: mode, access_reason: reason,
        };
        let h = &fixture().handle;
        let fields = [QUESTION, &["sections"]].concat();
        judged(call(h.authorize_batch(as_development(Request::new(req)))), &fields)?;
    }

    #[test]
    fn objections_refuse_only_by_naming_a_field(
        (request_id, nhs_number, scope, submitter, user_id) in
            (text(IDS), text(NHS), enum_value(), submitter(), text(IDS)),
        expected_stream_version in version(),
        withdraw: bool,
    ) {
        let h = &fixture().handle;
        let fields = write_fields(&["scope", "submitter", "submitter.attorney_id"]);
        if withdraw {
            let req = WithdrawObjectionRequest {
                request_id, nhs_number, scope, submitter, user_id, expected_stream_version,
            };
            judged(call(h.withdraw_objection(Request::new(req))), &fields)?;
        } else {
            let req = RecordObjectionRequest {
                request_id, nhs_number, scope, submitter, user_id, expected_stream_version,
            };
            judged(call(h.record_objection(Request::new(req))), &fields)?;
        }
    }

    #[test]
    fn attorney_changes_refuse_only_by_naming_a_field(
        (request_id, nhs_number, attorney_id, kind, verified_by) in
            (text(IDS), text(NHS), text(IDS), enum_value(), text(IDS)),
        (valid_from, valid_until, user_id) in (text(DATES), text(DATES), text(IDS)),
        expected_stream_version in version(),
        revoke: bool,
    ) {
        let h = &fixture().handle;
        if revoke {
            let req = RevokePowerOfAttorneyRequest {
                request_id, nhs_number, attorney_id, user_id, expected_stream_version,
            };
            let fields = write_fields(&["attorney_id"]);
            judged(call(h.revoke_power_of_attorney(Request::new(req))), &fields)?;
        } else {
            let req = RegisterPowerOfAttorneyRequest {
                request_id, nhs_number, attorney_id, kind, verified_by, valid_from, valid_until,
                user_id, expected_stream_version,
            };
            let fields =
                write_fields(&["attorney_id", "kind", "verified_by", "valid_from", "valid_until"]);
            judged(call(h.register_power_of_attorney(Request::new(req))), &fields)?;
        }
    }

    #[test]
    fn permissions_refuse_only_by_naming_a_field(
        (request_id, nhs_number, organisation_ods, until, submitter, user_id) in
            (text(IDS), text(NHS), text(ODS), timestamp(), submitter(), text(IDS)),
        expected_stream_version in version(),
        revoke: bool,
    ) {
        let h = &fixture().handle;
        let fields =
            write_fields(&["organisation_ods", "until", "submitter", "submitter.attorney_id"]);
        if revoke {
            let req = RevokePermissionToViewRequest {
                request_id, nhs_number, organisation_ods, submitter, user_id,
                expected_stream_version,
            };
            judged(call(h.revoke_permission_to_view(Request::new(req))), &fields)?;
        } else {
            let req = GrantPermissionToViewRequest {
                request_id, nhs_number, organisation_ods, until, submitter, user_id,
                expected_stream_version,
            };
            judged(call(h.grant_permission_to_view(Request::new(req))), &fields)?;
        }
    }

    #[test]
    fn care_context_refuses_only_by_naming_a_field(
        (request_id, nhs_number, ods, date_of_birth, relationship_id, kind) in
            (text(IDS), text(NHS), text(ODS), text(DATES), text(IDS), enum_value()),
        (user_id, expected_stream_version, which) in (text(IDS), version(), 0u8..3),
    ) {
        let h = &fixture().handle;
        match which {
            0 => {
                let req = RegisterPatientRequest {
                    request_id, nhs_number, gp_practice_ods: ods, date_of_birth, user_id,
                    expected_stream_version,
                };
                let fields = write_fields(&["gp_practice_ods", "date_of_birth"]);
                judged(call(h.register_patient(Request::new(req))), &fields)?;
            }
            1 => {
                let req = StartCareRelationshipRequest {
                    request_id, nhs_number, relationship_id, organisation_ods: ods, kind, user_id,
                    expected_stream_version,
                };
                let fields = write_fields(&["relationship_id", "organisation_ods", "kind"]);
                judged(call(h.start_care_relationship(Request::new(req))), &fields)?;
            }
            _ => {
                let req = EndCareRelationshipRequest {
                    request_id, nhs_number, relationship_id, user_id, expected_stream_version,
                };
                let fields = write_fields(&["relationship_id"]);
                judged(call(h.end_care_relationship(Request::new(req))), &fields)?;
            }
        }
    }

    #[test]
    fn consent_status_refuses_only_by_naming_a_field(nhs_number in text(NHS)) {
        let req = GetConsentStatusRequest { nhs_number, min_log_position: 0 };
        let h = &fixture().handle;
        judged(call(h.get_consent_status(Request::new(req))), &["nhs_number"])?;
    }
}

#[test]
fn a_refusal_names_the_field_before_the_colon() {
    assert_eq!(named_field("sections[12]: unknown value 99"), "sections");
    assert_eq!(
        named_field("request.requester.user_id: must not be empty"),
        "request.requester.user_id"
    );
    let bad = ServiceError::from(icr_events::FieldError::new("nhs", "bad"));
    let bad: Result<(), Status> = Err(bad.into());
    assert!(judged(bad, &["nhs_number"]).is_err());
    let internal: Result<(), Status> = Err(ServiceError::bug("boom", "this test").into());
    assert!(judged(internal, &["nhs_number"]).is_err());
}

//! Bad input gets a clear error and nothing is lost, for the care context
//! and policy admin services: every validation error is `InvalidArgument`
//! with a message that starts with the field's path, appends nothing, and
//! leaves the server answering. Decision and consent RPCs: `validation.rs`.

use icr_integration_tests::*;
use icr_proto::pb::*;
use jiff::ToSpan;
use tonic::{Code, Status};

/// One request to a care context or policy RPC.
#[derive(Debug, Clone)]
enum Call {
    Register(RegisterPatientRequest),
    Start(StartCareRelationshipRequest),
    End(EndCareRelationshipRequest),
    Join(JoinOrganisationRequest),
    Leave(LeaveOrganisationRequest),
    Role(SetRolePolicyRequest),
    Region(SetRegionPolicyRequest),
}

async fn send(s: &mut Server, call: Call) -> Result<(), Status> {
    match call {
        Call::Register(r) => s.care.register_patient(r).await.map(drop),
        Call::Start(r) => s.care.start_care_relationship(r).await.map(drop),
        Call::End(r) => s.care.end_care_relationship(r).await.map(drop),
        Call::Join(r) => s.policy.join_organisation(r).await.map(drop),
        Call::Leave(r) => s.policy.leave_organisation(r).await.map(drop),
        Call::Role(r) => s.policy.set_role_policy(r).await.map(drop),
        Call::Region(r) => s.policy.set_region_policy(r).await.map(drop),
    }
}

/// The UK calendar date today.
fn uk_today() -> jiff::civil::Date {
    jiff::Timestamp::now()
        .in_tz("Europe/London")
        .expect("tz")
        .date()
}

/// Defines `$base()`, a valid `$req`, and `$name(edit)`: that request
/// changed by `edit`, as a `Call`.
macro_rules! valid {
    ($name:ident / $base:ident, $variant:ident, $req:ty, $value:expr) => {
        #[allow(dead_code)]
        fn $base() -> $req {
            $value
        }
        fn $name(edit: impl FnOnce(&mut $req)) -> Call {
            let mut r = $base();
            edit(&mut r);
            Call::$variant(r)
        }
    };
}

valid!(
    register / register_request,
    Register,
    RegisterPatientRequest,
    RegisterPatientRequest {
        request_id: request_id(),
        nhs_number: OTHER_PATIENT.into(),
        gp_practice_ods: PRACTICE.into(),
        date_of_birth: "1970-01-01".into(),
        user_id: "gp-feed".into(),
        expected_stream_version: None,
    }
);
valid!(
    start / start_request,
    Start,
    StartCareRelationshipRequest,
    StartCareRelationshipRequest {
        request_id: request_id(),
        nhs_number: OTHER_PATIENT.into(),
        relationship_id: "ep-1".into(),
        organisation_ods: HOSPITAL.into(),
        kind: CareRelationshipKind::InpatientEpisode.into(),
        user_id: "pas-feed".into(),
        expected_stream_version: None,
    }
);
valid!(
    end / end_request,
    End,
    EndCareRelationshipRequest,
    EndCareRelationshipRequest {
        request_id: request_id(),
        nhs_number: OTHER_PATIENT.into(),
        relationship_id: "ep-1".into(),
        user_id: "pas-feed".into(),
        expected_stream_version: None,
    }
);
valid!(
    join / join_request,
    Join,
    JoinOrganisationRequest,
    JoinOrganisationRequest {
        request_id: request_id(),
        ods_code: "RRK".into(),
        name: "University Hospitals Birmingham".into(),
        region: "QHL".into(),
        user_id: "ig-lead".into(),
        expected_stream_version: None,
    }
);
valid!(
    leave / leave_request,
    Leave,
    LeaveOrganisationRequest,
    LeaveOrganisationRequest {
        request_id: request_id(),
        ods_code: "RLT".into(),
        user_id: "ig-lead".into(),
        expected_stream_version: None,
    }
);
valid!(
    role / role_request,
    Role,
    SetRolePolicyRequest,
    SetRolePolicyRequest {
        request_id: request_id(),
        role_code: "R8008".into(),
        description: "Admin/Clinical Support Access Role".into(),
        sections: vec![
            RecordSection::Demographics.into(),
            RecordSection::Contacts.into()
        ],
        purposes: vec![Purpose::DirectCare.into()],
        user_id: "ig-lead".into(),
        ..Default::default()
    }
);
valid!(
    region / region_request,
    Region,
    SetRegionPolicyRequest,
    SetRegionPolicyRequest {
        request_id: request_id(),
        region: "QWU".into(),
        name: "Coventry and Warwickshire".into(),
        consent_model: ConsentModel::OptOut.into(),
        minimum_age: 18,
        viewing_regions: vec!["QHL".into(), "QGH".into()],
        user_id: "ig-lead".into(),
        ..Default::default()
    }
);

/// Wrong check digit, short, long, a letter, blank, and groupings other
/// than the 3-3-4 of NHS letters (which are read as the ten digits).
const BAD_NHS: [&str; 8] = [
    "9434765918",
    "943476591",
    "94347659190",
    "94347A5919",
    "",
    "9434 765 919",
    "943-476 5919",
    " 9434765919",
];

/// Blank, only spaces, too long (129 bytes), a control character.
fn bad_ids() -> Vec<String> {
    vec![
        String::new(),
        "   ".into(),
        "x".repeat(129),
        "pas\u{7}feed".into(),
    ]
}

/// Every (field, bad request) pair, one per line.
#[rustfmt::skip]
fn cases() -> Vec<(&'static str, Call)> {
    let mut c: Vec<(&'static str, Call)> = Vec::new();
    macro_rules! ids {
        ($field:ident: $($ctor:ident),+) => {$(for bad in bad_ids() {
            c.push((stringify!($field), $ctor(|r| r.$field = bad)));
        })+};
    }
    for bad in BAD_NHS {
        c.push(("nhs_number", register(|r| r.nhs_number = bad.into())));
        c.push(("nhs_number", start(|r| r.nhs_number = bad.into())));
        c.push(("nhs_number", end(|r| r.nhs_number = bad.into())));
    }
    ids!(request_id: register, start, end, join, leave, role, region);
    ids!(user_id: register, start, end, join, leave, role, region);
    ids!(relationship_id: start, end);

    // CareContextService.
    for bad in ["rk b", "RK", "R-KB", "ABCDEFGHIJK", ""] {
        c.push(("organisation_ods", start(|r| r.organisation_ods = bad.into())));
        c.push(("gp_practice_ods", register(|r| r.gp_practice_ods = bad.into())));
        c.push(("ods_code", join(|r| r.ods_code = bad.into())));
        c.push(("ods_code", leave(|r| r.ods_code = bad.into())));
    }
    for bad in [0, 99] {
        c.push(("kind", start(|r| r.kind = bad)));
    }
    let tomorrow = uk_today().checked_add(1.day()).expect("date").to_string();
    let dates = ["2026-02-30", "20260101", "1970-1-01", "01/01/1970", "1970-01-01T00:00", ""];
    for bad in dates.into_iter().map(String::from).chain([tomorrow, "2999-01-01".into()]) {
        c.push(("date_of_birth", register(|r| r.date_of_birth = bad)));
    }

    // PolicyAdminService.
    c.push(("name", join(|r| r.name = " ".into())));
    c.push(("name", join(|r| r.name = "n".repeat(257))));
    c.push(("region", join(|r| r.region = "qhl".into())));
    c.push(("region", join(|r| r.region = "Q".into())));
    c.push(("role_code", role(|r| r.role_code = "r8008".into())));
    c.push(("role_code", role(|r| r.role_code = "R8008-ADMIN".into())));
    c.push(("role_code", role(|r| r.role_code = "R800812345678".into())));
    c.push(("description", role(|r| r.description = String::new())));
    c.push(("sections[1]", role(|r| r.sections[1] = 0)));
    c.push(("sections[1]", role(|r| r.sections[1] = 99)));
    c.push(("purposes", role(|r| r.purposes.clear())));
    c.push(("purposes[0]", role(|r| r.purposes[0] = 0)));
    c.push(("purposes[1]", role(|r| r.purposes.push(99))));
    c.push(("region", region(|r| r.region = "qwu".into())));
    c.push(("region", region(|r| r.region = String::new())));
    c.push(("name", region(|r| r.name = String::new())));
    c.push(("consent_model", region(|r| r.consent_model = 0)));
    c.push(("consent_model", region(|r| r.consent_model = 99)));
    c.push(("minimum_age", region(|r| r.minimum_age = 131)));
    c.push(("viewing_regions[0]", region(|r| r.viewing_regions[0] = "qhl".into())));
    c.push(("viewing_regions[1]", region(|r| r.viewing_regions[1] = String::new())));
    c
}

#[tokio::test]
async fn every_bad_care_or_policy_request_names_its_field_and_appends_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    server.admit(PATIENT).await;
    let before = server.all_events().await;
    let cases = cases();
    assert!(cases.len() > 100, "{} cases", cases.len());
    let mut failures = Vec::new();
    for (field, call) in cases {
        let shown = format!("{call:?}");
        match send(&mut server, call).await {
            Err(e)
                if e.code() == Code::InvalidArgument
                    && e.message().starts_with(&format!("{field}: ")) => {}
            Err(e) => failures.push(format!(
                "{field}: got {:?} {:?} for {shown}",
                e.code(),
                e.message()
            )),
            Ok(()) => failures.push(format!("{field}: accepted {shown}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let after = server.all_events().await;
    assert_eq!(after.len(), before.len(), "bad requests appended events");
    assert_eq!(after.last().map(|e| &e.id), before.last().map(|e| &e.id));

    // Still answering: the policy is unchanged and a good write succeeds.
    let decision = server
        .authorize(PATIENT, clinician(), RecordSection::MentalHealth)
        .await;
    assert!(allowed(&decision), "{decision:?}");
    let admin = Requester {
        role_code: "R8008".into(),
        ..clinician()
    };
    let decision = server
        .authorize(PATIENT, admin, RecordSection::Contacts)
        .await;
    assert!(allowed(&decision), "{decision:?}");
    let written = server
        .care
        .register_patient(register_request())
        .await
        .expect("good write");
    assert_eq!(
        write_position(written.into_inner().result),
        before.len() as u64 + 1
    );
}

/// Each case fails only because of the one field it changes: the unchanged
/// requests are accepted (a date of birth of today is not in the future).
#[tokio::test]
async fn the_unchanged_care_and_policy_requests_are_valid() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    let born_today = uk_today().to_string();
    let baselines = [
        register(|r| r.date_of_birth = born_today),
        start(|_| {}),
        end(|_| {}),
        join(|_| {}),
        leave(|_| {}),
        role(|_| {}),
        region(|r| (r.minimum_age, r.viewing_regions) = (130, Vec::new())),
    ];
    for call in baselines {
        let shown = format!("{call:?}");
        send(&mut server, call)
            .await
            .unwrap_or_else(|s| panic!("{shown} refused: {s:?}"));
    }
}

#[tokio::test]
async fn a_policy_request_id_reused_with_different_content_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path()).await;
    let first = join_request();
    let id = first.request_id.clone();
    server
        .policy
        .join_organisation(first.clone())
        .await
        .expect("join");
    let before = server.all_events().await.len();
    let reused = [
        join(|r| (r.request_id, r.region) = (id.clone(), "QGH".into())),
        leave(|r| (r.request_id, r.ods_code) = (id.clone(), first.ods_code.clone())),
        register(|r| r.request_id = id.clone()),
    ];
    for call in reused {
        let shown = format!("{call:?}");
        let error = send(&mut server, call).await.expect_err(&shown);
        assert_eq!(error.code(), Code::InvalidArgument, "{shown}: {error:?}");
        assert!(
            error.message().starts_with("request_id"),
            "{}",
            error.message()
        );
    }
    assert_eq!(server.all_events().await.len(), before);
    let retry = server
        .policy
        .join_organisation(first)
        .await
        .expect("retry")
        .into_inner();
    assert!(retry.result.expect("result").replayed);
}

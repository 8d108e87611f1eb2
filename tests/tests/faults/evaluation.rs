//! Failures met while deciding: a real casbin error, and panics while
//! computing a decision. Each is a recorded deny naming it.

use super::*;

/// A failure met while deciding.
#[derive(Debug, Clone, Copy)]
enum EvaluationFault {
    /// casbin returns an error.
    CasbinError,
    /// casbin panics.
    CasbinPanic,
    /// The service panics while computing a decision, outside casbin.
    Panic,
}

/// A region no organisation of the built-in pack is in.
const TRAP_REGION: &str = "QZZ";
/// A practice joined to [`TRAP_REGION`]; its code sorts after every other
/// member's, so the engine's build probes (the first member's region) pass.
const TRAP_PRACTICE: &str = "Y99999";

/// The built-in files with a model that casbin evaluates for every patient
/// but those in [`TRAP_REGION`]: for them the matcher reads a fact that is
/// not there and uses it as a condition, a real error inside casbin.
fn trap_files() -> PolicyFiles {
    let mut files = PolicyFiles::built_in();
    let matcher = "m = ";
    assert!(files.model.contains(matcher), "{}", files.model);
    let trap = format!("m = (r.region != \"{TRAP_REGION}\" || r.facts[r.region]) && ");
    files.model = files.model.replacen(matcher, &trap, 1);
    files
}

/// Registers `PATIENT` at `practice`, moving them to its region.
async fn register_at(server: &mut Server, practice: &str) {
    let request = RegisterPatientRequest {
        request_id: request_id(),
        nhs_number: PATIENT.into(),
        gp_practice_ods: practice.into(),
        date_of_birth: "1970-01-01".into(),
        user_id: "gp-feed".into(),
        expected_stream_version: None,
    };
    server
        .care
        .register_patient(request)
        .await
        .expect("register");
}

/// Meets `fault` in the next decisions (`on`), or clears it. casbin itself
/// cannot be made to panic from outside: the engine refuses every model it
/// could panic on (icr-decision's tests show what such a panic becomes), so
/// a casbin panic here is a panic in the decision's read of the state, like
/// any other panic while computing it.
async fn inject(server: &mut Server, faults: &Faults, fault: EvaluationFault, on: bool) {
    match fault {
        EvaluationFault::CasbinError if on => register_at(server, TRAP_PRACTICE).await,
        EvaluationFault::CasbinError => register_at(server, PRACTICE).await,
        EvaluationFault::CasbinPanic | EvaluationFault::Panic => faults.panic_view_reads(on),
    }
}

#[tokio::test]
async fn casbin_errors_and_panics_are_recorded_denies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let faults = Faults::default();
    let mut options = Options::new(dir.path(), trap_files());
    options.faults = faults.clone();
    let mut server = Server::start_options(options).await;
    server.admit(PATIENT).await;
    let joined = JoinOrganisationRequest {
        request_id: request_id(),
        ods_code: TRAP_PRACTICE.into(),
        name: "Practice in a region without policy".into(),
        region: TRAP_REGION.into(),
        user_id: "policy-admin".into(),
        expected_stream_version: None,
    };
    server.policy.join_organisation(joined).await.expect("join");
    let cases = [
        (EvaluationFault::CasbinError, "evaluation_failed"),
        (EvaluationFault::CasbinPanic, "evaluation_panicked"),
        (EvaluationFault::Panic, "evaluation_panicked"),
    ];
    for (fault, reason) in cases {
        inject(&mut server, &faults, fault, true).await;
        let result = authorize(&mut server, 0).await;
        assert_not_allowed(&format!("{fault:?}"), &result);
        let denied = result.expect("a decision, not an error");
        assert_eq!(denied.reason, reason, "{fault:?}");
        let records = trail(&mut server).await.expect("trail");
        let record = records.last().expect("recorded");
        assert_eq!(record.decision_id, denied.decision_id, "{fault:?}");
        assert!(!record.allowed && record.reason == reason, "{record:?}");
        inject(&mut server, &faults, fault, false).await;
        // The service keeps serving, and the failure was not remembered.
        assert!(allowed(
            &authorize(&mut server, 0).await.expect("authorize")
        ));
    }
}

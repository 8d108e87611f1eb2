//! Every built-in policy pack's scenarios (`policies/<pack>/scenarios/*.toml`,
//! format in `policies/SCENARIOS.md`), each scenario against a fresh service
//! with that pack built in. Fails listing every failing scenario of every
//! pack.

use std::path::Path;
use std::time::Instant;

use consent_service::PolicyFiles;

#[tokio::test(flavor = "multi_thread")]
async fn every_packs_scenarios_pass() {
    let policies = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies");
    let mut failures = Vec::new();
    for pack in PolicyFiles::built_in_pack_names() {
        let files = PolicyFiles::built_in_pack(pack).expect("built-in pack");
        let scenarios = match icr_scenarios::load(policies.join(pack).join("scenarios")) {
            Ok(scenarios) => scenarios,
            Err(error) => {
                failures.push(format!("{pack}: {error}"));
                continue;
            }
        };
        let started = Instant::now();
        let report = icr_scenarios::run(&files, &scenarios).await;
        println!(
            "{pack}: {} scenarios in {:.1?}: {}",
            report.results.len(),
            started.elapsed(),
            report.summary()
        );
        failures.extend(report.failures().map(|f| format!("{pack}: {f}")));
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

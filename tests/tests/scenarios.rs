//! Every built-in policy pack's scenarios (`policies/<pack>/scenarios/*.toml`,
//! format in `policies/SCENARIOS.md`), each scenario against a fresh service
//! with that pack built in. Fails listing every failing scenario of every
//! pack. The leaflet promises the scenarios prove are indexed in
//! `policies/SCENARIOS.md`, and every leaflet a pack implements has them.

use std::path::{Path, PathBuf};
use std::time::Instant;

use consent_service::PolicyFiles;
use icr_integration_tests::in_process::InProcess;

#[tokio::test(flavor = "multi_thread")]
async fn every_packs_scenarios_pass() {
    let policies = policies();
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
        let report = icr_scenarios::run(InProcess, &files, &scenarios).await;
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

/// The leaflets (source documents `000` to `004`) each pack implements.
const SEEDS: [(&str, &[&str]); 4] = [
    ("coventry-warwickshire", &["000", "001"]),
    ("bath-north-east-somerset", &["002"]),
    ("bsw", &["003"]),
    ("my-care-record", &["004"]),
];

fn policies() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies")
}

/// The promises section of `policies/SCENARIOS.md` as the scenario files
/// say it should read: per pack, each quoted promise (by seed, in the order
/// first proved) and the scenarios that prove it.
fn promise_index() -> String {
    let mut text = String::new();
    for pack in PolicyFiles::built_in_pack_names() {
        let scenarios = icr_scenarios::load(policies().join(pack).join("scenarios"))
            .unwrap_or_else(|e| panic!("{pack}: {e}"));
        let mut promises: Vec<(&icr_scenarios::Promise, Vec<String>)> = Vec::new();
        for scenario in &scenarios.scenarios {
            let Some(promise) = &scenario.promise else {
                continue;
            };
            let file = scenario.file.file_name().expect("a file").to_string_lossy();
            let line = format!("  - `{file}`: {}", scenario.name);
            match promises.iter_mut().find(|(p, _)| *p == promise) {
                Some((_, lines)) => lines.push(line),
                None => promises.push((promise, vec![line])),
            }
        }
        promises.sort_by(|(a, _), (b, _)| a.seed.cmp(&b.seed));
        text.push_str(&format!("### `{pack}/`\n\n"));
        for (promise, lines) in promises {
            text.push_str(&format!("- seed {}: “{}”\n", promise.seed, promise.quote));
            for line in lines {
                text.push_str(&line);
                text.push('\n');
            }
        }
        text.push('\n');
    }
    text
}

#[test]
fn every_leaflet_promise_proved_by_a_scenario_is_indexed() {
    let index = promise_index();
    let doc = std::fs::read_to_string(policies().join("SCENARIOS.md")).expect("SCENARIOS.md");
    assert!(
        doc.contains(index.trim_end()),
        "policies/SCENARIOS.md's leaflet promises are not those the scenario files prove; \
         replace that section's pack lists with:\n\n{index}"
    );
}

#[test]
fn every_leaflet_a_pack_implements_has_its_promises_proved() {
    for (pack, seeds) in SEEDS {
        let scenarios = icr_scenarios::load(policies().join(pack).join("scenarios"))
            .unwrap_or_else(|e| panic!("{pack}: {e}"));
        for seed in seeds {
            let proved = scenarios
                .scenarios
                .iter()
                .filter(|s| s.promise.as_ref().is_some_and(|p| p.seed == *seed))
                .count();
            assert!(
                proved > 0,
                "{pack}: no scenario proves a promise of seed {seed}"
            );
        }
        let other = scenarios.scenarios.iter().find_map(|s| {
            let seed = &s.promise.as_ref()?.seed;
            (!seeds.contains(&seed.as_str())).then(|| (s.name.clone(), seed.clone()))
        });
        assert_eq!(other, None, "{pack}: a promise of another pack's leaflet");
    }
}

//! What a run found: one result per scenario, in load order.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// The outcome of one scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioResult {
    /// The scenario's name.
    pub name: String,
    /// The file it came from.
    pub file: PathBuf,
    /// Why it failed; `None` when it passed.
    pub failure: Option<String>,
    /// How long it took, service start and stop included.
    pub elapsed: Duration,
}

impl ScenarioResult {
    /// Whether the scenario passed.
    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }
}

impl fmt::Display for ScenarioResult {
    /// `PASS  file: name`, or `FAIL  file: name: why`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.file.file_name().map_or_else(
            || self.file.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        match &self.failure {
            None => write!(f, "PASS  {file}: {}", self.name),
            Some(why) => write!(f, "FAIL  {file}: {}: {why}", self.name),
        }
    }
}

/// The results of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// One result per scenario, in the order the scenarios were loaded.
    pub results: Vec<ScenarioResult>,
}

impl Report {
    /// The scenarios that failed.
    pub fn failures(&self) -> impl Iterator<Item = &ScenarioResult> {
        self.results.iter().filter(|r| !r.passed())
    }

    /// How many passed.
    pub fn passed(&self) -> usize {
        self.results.iter().filter(|r| r.passed()).count()
    }

    /// How many failed.
    pub fn failed(&self) -> usize {
        self.failures().count()
    }

    /// `N passed, M failed`.
    pub fn summary(&self) -> String {
        format!("{} passed, {} failed", self.passed(), self.failed())
    }
}

impl fmt::Display for Report {
    /// A line per scenario, then the summary.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for result in &self.results {
            writeln!(f, "{result}")?;
        }
        write!(f, "{}", self.summary())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(name: &str, failure: Option<&str>) -> ScenarioResult {
        ScenarioResult {
            name: name.into(),
            file: PathBuf::from("policies/x/scenarios/roles.toml"),
            failure: failure.map(str::to_owned),
            elapsed: Duration::ZERO,
        }
    }

    #[test]
    fn the_report_lists_every_scenario_and_sums_up() {
        let report = Report {
            results: vec![
                result("a", None),
                result("b", Some("expected deny, got allow")),
            ],
        };
        assert_eq!(report.failed(), 1);
        assert_eq!(
            report.to_string(),
            "PASS  roles.toml: a\nFAIL  roles.toml: b: expected deny, got allow\n1 passed, 1 failed"
        );
    }
}

//! Scenario files: `[[scenario]]` tables of `name`, `given`, `when` and
//! `then` (the format is documented in `policies/SCENARIOS.md`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use icr_proto::pb;
use serde::Deserialize;

use crate::given::Step;
use crate::names::Named;

/// Why scenarios could not be loaded. Nothing runs until every file loads.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file or directory could not be read.
    #[error("reading {}: {source}", path.display())]
    Read {
        /// What was being read.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file is not valid scenario TOML; the message names the line.
    #[error("{}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        message: String,
    },
    /// No scenario was found.
    #[error("{}: no [[scenario]] found", path.display())]
    Empty {
        /// The file or directory.
        path: PathBuf,
    },
    /// Two scenarios share a name, so a report could not tell them apart.
    #[error("scenario name `{name}` is used twice ({} and {})", first.display(), second.display())]
    DuplicateName {
        /// The name.
        name: String,
        /// File of the first use.
        first: PathBuf,
        /// File of the second use.
        second: PathBuf,
    },
    /// A scenario's promise names no leaflet or quotes nothing.
    #[error("{}: scenario `{name}` has a promise without a seed or a quote", file.display())]
    BlankPromise {
        /// The scenario.
        name: String,
        /// Its file.
        file: PathBuf,
    },
    /// A scenario expects a deny without saying why: it would pass for any
    /// deny, including one for the wrong reason.
    #[error("{}: scenario `{name}` expects a deny without a reason", file.display())]
    DenyWithoutReason {
        /// The scenario.
        name: String,
        /// Its file.
        file: PathBuf,
    },
}

/// Scenarios loaded from one file, or from every `*.toml` file of a
/// directory in file-name order.
#[derive(Debug, Clone, Default)]
pub struct ScenarioFile {
    /// The scenarios, in file order.
    pub scenarios: Vec<Scenario>,
}

/// Given these steps, when this request, then this decision.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// What the scenario shows; unique within a load.
    pub name: String,
    /// The file the scenario came from.
    #[serde(skip)]
    pub file: PathBuf,
    /// The sentence of a patient leaflet the scenario proves, if it proves
    /// one.
    #[serde(default)]
    pub promise: Option<Promise>,
    #[serde(default)]
    pub(crate) given: Vec<Step>,
    pub(crate) when: When,
    pub(crate) then: Then,
}

/// A promise a patient leaflet makes, quoted, that a scenario proves.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Promise {
    /// The leaflet: its number among the project's source documents
    /// (`000` to `004`).
    pub seed: String,
    /// The sentence, word for word.
    pub quote: String,
}

/// The access request a scenario asks about.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct When {
    pub(crate) nhs: String,
    pub(crate) role: String,
    pub(crate) org: String,
    pub(crate) section: Named<pb::RecordSection>,
    /// Defaults to `direct_care`.
    pub(crate) purpose: Option<Named<pb::Purpose>>,
    /// Defaults to normal access.
    pub(crate) mode: Option<Named<pb::AccessMode>>,
    /// Access reason, for break glass and self-claimed relationships.
    pub(crate) reason: Option<String>,
    /// ODS code of the organisation the data comes from.
    pub(crate) source_org: Option<String>,
    /// Defaults to `scenario`.
    pub(crate) user: Option<String>,
}

/// The decision a scenario expects.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Then {
    pub(crate) outcome: Named<pb::Outcome>,
    /// The reason code; required for a deny.
    pub(crate) reason: Option<String>,
    /// The obligation kinds the decision carries, exactly (none if empty).
    #[serde(default)]
    pub(crate) obligations: Vec<String>,
    /// The decision must be in the patient's access report, saying who
    /// asked for which section and what they were told.
    #[serde(default)]
    pub(crate) recorded: bool,
}

/// The top level of a scenario file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileText {
    #[serde(default)]
    scenario: Vec<Scenario>,
}

impl ScenarioFile {
    /// Parses the text of one scenario file; `file` names it in reports and
    /// errors.
    pub fn from_toml(text: &str, file: impl Into<PathBuf>) -> Result<Self, LoadError> {
        let file = file.into();
        let parsed: FileText = toml::from_str(text).map_err(|error| LoadError::Parse {
            path: file.clone(),
            message: error.to_string(),
        })?;
        let mut scenarios = parsed.scenario;
        for scenario in &mut scenarios {
            scenario.file.clone_from(&file);
        }
        let loaded = Self { scenarios };
        loaded.check(&file)?;
        Ok(loaded)
    }

    /// Refuses an empty load and duplicate names.
    fn check(&self, path: &Path) -> Result<(), LoadError> {
        if self.scenarios.is_empty() {
            return Err(LoadError::Empty {
                path: path.to_owned(),
            });
        }
        let mut seen: HashMap<&str, &Path> = HashMap::new();
        for scenario in &self.scenarios {
            if scenario.then.outcome.0 != pb::Outcome::Allow && scenario.then.reason.is_none() {
                return Err(LoadError::DenyWithoutReason {
                    name: scenario.name.clone(),
                    file: scenario.file.clone(),
                });
            }
            let blank = |text: &str| text.trim().is_empty();
            if let Some(promise) = &scenario.promise
                && (blank(&promise.seed) || blank(&promise.quote))
            {
                return Err(LoadError::BlankPromise {
                    name: scenario.name.clone(),
                    file: scenario.file.clone(),
                });
            }
            if let Some(first) = seen.insert(&scenario.name, &scenario.file) {
                return Err(LoadError::DuplicateName {
                    name: scenario.name.clone(),
                    first: first.to_owned(),
                    second: scenario.file.clone(),
                });
            }
        }
        Ok(())
    }
}

/// Loads a scenario file, or every `*.toml` file in a directory (such as a
/// pack's `scenarios/`), in file-name order.
pub fn load(path: impl AsRef<Path>) -> Result<ScenarioFile, LoadError> {
    let path = path.as_ref();
    let read_error = |path: &Path| {
        let path = path.to_owned();
        move |source| LoadError::Read { path, source }
    };
    if !path.is_dir() {
        let text = std::fs::read_to_string(path).map_err(read_error(path))?;
        return ScenarioFile::from_toml(&text, path);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(read_error(path))? {
        let file = entry.map_err(read_error(path))?.path();
        if file.is_file() && file.extension().is_some_and(|e| e == "toml") {
            files.push(file);
        }
    }
    files.sort();
    let mut all = ScenarioFile::default();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(read_error(&file))?;
        all.scenarios
            .extend(ScenarioFile::from_toml(&text, file)?.scenarios);
    }
    all.check(path)?;
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::given::Action;

    const EXAMPLE: &str = r#"
[[scenario]]
name = "objection blocks another organisation's data"
given = [
  { register = { nhs = "9434765919", practice = "M86003", dob = "today-40y" } },
  { care_start = { nhs = "9434765919", org = "RKB", kind = "inpatient_episode", relationship = "ep1" } },
  { object = { nhs = "9434765919", attorney = "att-1" }, expect = "failed_precondition" },
  { wait = "10ms" },
]
when = { nhs = "9434765919", role = "R8000", org = "RKB", section = "medications", purpose = "direct_care" }
then = { outcome = "deny", reason = "objection_active" }
"#;

    fn parse(text: &str) -> Result<ScenarioFile, String> {
        ScenarioFile::from_toml(text, "example.toml").map_err(|e| e.to_string())
    }

    #[test]
    fn the_documented_example_parses() {
        let file = parse(EXAMPLE).expect("parses");
        let [scenario] = file.scenarios.as_slice() else {
            panic!("one scenario");
        };
        assert_eq!(scenario.file, PathBuf::from("example.toml"));
        assert_eq!(scenario.given.len(), 4);
        assert!(matches!(scenario.given[2].action, Action::Object(_)));
        assert_eq!(
            scenario.given[2].expect.map(|c| c.0),
            Some(tonic::Code::FailedPrecondition)
        );
        assert_eq!(scenario.then.outcome.0, pb::Outcome::Deny);
    }

    #[test]
    fn mistakes_fail_the_load_and_name_the_line() {
        let typo = EXAMPLE.replace("care_start", "care_begin");
        let error = parse(&typo).expect_err("unknown action");
        assert!(
            error.contains("care_begin") && error.contains("line"),
            "{error}"
        );
        let two = EXAMPLE.replace("\"today-40y\" }", "\"today-40y\" }, wait = \"1s\"");
        assert!(
            parse(&two)
                .expect_err("two actions")
                .contains("exactly one action")
        );
        let field = EXAMPLE.replace("attorney = \"att-1\"", "atorney = \"att-1\"");
        assert!(
            parse(&field)
                .expect_err("unknown field")
                .contains("atorney")
        );
        let section = EXAMPLE.replace("\"medications\"", "\"medicine\"");
        assert!(parse(&section).expect_err("section").contains("medicine"));
        let date = EXAMPLE.replace("today-40y", "today-40");
        assert!(parse(&date).is_err());
        assert!(parse("").expect_err("empty").contains("no [[scenario]]"));
    }

    #[test]
    fn a_promise_is_quoted_and_the_record_can_be_asked_for() {
        let quoted = EXAMPLE.replace(
            "given = [",
            "promise = { seed = \"000\", quote = \"You can change your mind at any time.\" }\ngiven = [",
        );
        let quoted = quoted.replace(
            "reason = \"objection_active\" }",
            "reason = \"objection_active\", recorded = true }",
        );
        let file = parse(&quoted).expect("parses");
        let scenario = &file.scenarios[0];
        let promise = scenario.promise.as_ref().expect("a promise");
        assert_eq!(promise.seed, "000");
        assert_eq!(promise.quote, "You can change your mind at any time.");
        assert!(scenario.then.recorded);
        assert!(!parse(EXAMPLE).expect("parses").scenarios[0].then.recorded);
        let blank = quoted.replace("You can change your mind at any time.", " ");
        assert_eq!(
            parse(&blank).expect_err("blank quote"),
            "example.toml: scenario `objection blocks another organisation's data` \
             has a promise without a seed or a quote"
        );
        let typo = quoted.replace("quote =", "qoute =");
        assert!(parse(&typo).expect_err("unknown key").contains("qoute"));
    }

    #[test]
    fn scenario_names_are_unique() {
        let twice = format!("{EXAMPLE}\n{EXAMPLE}");
        assert!(parse(&twice).expect_err("duplicate").contains("used twice"));
    }
}

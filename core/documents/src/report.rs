//! The `lastmile.report/v1` document: one qualification run of one deployed candidate. aqf-run
//! writes it; `aqf-run promote` reads it and promotes the candidate only if it passed.

use std::collections::BTreeMap;

use lastmile_fs::Sha256;
use serde::{Deserialize, Serialize};

pub const SCHEMA: &str = "lastmile.report/v1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportDocument {
    pub schema: String,
    /// Whether every required test passed (a flaky pass counts; a skipped test does not fail).
    pub passed: bool,
    pub candidate: QualifiedCandidate,
    pub environment: String,
    pub generation: u64,
    /// Each suite file and its sha256: what the candidate was qualified against.
    pub suites: Vec<SuiteFile>,
    /// `K/N` when only a slice of the tests ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    /// RFC 3339, UTC.
    pub started: String,
    pub finished: String,
    pub counts: BTreeMap<String, u64>,
    pub tests: Vec<TestResult>,
    /// Requirements and what verifies them, unverified and failing first.
    pub requirements: Vec<RequirementResult>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualifiedCandidate {
    /// The image's sha256, as the deployment says: what is promoted.
    pub digest: Sha256,
    /// The image file, re-hashed at promotion.
    pub image: String,
    pub source_commits: BTreeMap<String, String>,
    /// The base's digest and the installed packages, from the candidate's manifest.
    pub base: Option<Sha256>,
    pub packages: Vec<QualifiedPackage>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualifiedPackage {
    pub name: String,
    pub version: String,
    pub sha256: Sha256,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuiteFile {
    pub file: String,
    pub sha256: Sha256,
}

/// How a test ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Passed,
    /// Passed after failing at least once: never reported as a plain pass.
    Flaky,
    Failed,
    /// Killed at its time limit, with everything it started.
    TimedOut,
    /// Could not be run (a node without an exec command, a pytest that did not start).
    Error,
    /// Not run: `--fail-fast` after a failure.
    Skipped,
}

impl Outcome {
    /// Whether a required test with this outcome lets the candidate pass.
    pub fn acceptable(self) -> bool {
        matches!(self, Outcome::Passed | Outcome::Flaky)
    }

    pub fn word(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Flaky => "flaky",
            Outcome::Failed => "failed",
            Outcome::TimedOut => "timed-out",
            Outcome::Error => "error",
            Outcome::Skipped => "skipped",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestResult {
    /// `group/test@node`: stable, what `--partition` hashes.
    pub id: String,
    pub group: String,
    pub name: String,
    pub node: Option<String>,
    pub kind: String,
    pub required: bool,
    pub tags: Vec<String>,
    pub verifies: Vec<String>,
    pub outcome: Outcome,
    pub duration_ms: u64,
    /// Every attempt, the last one last.
    pub attempts: Vec<Attempt>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attempt {
    pub outcome: Outcome,
    pub duration_ms: u64,
    /// What failed, in a line.
    pub message: String,
    pub stdout: String,
    pub stderr: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequirementResult {
    pub id: String,
    pub title: String,
    /// `verified` (every test verifying it passed), `failed`, or `unverified` (no test ran).
    pub status: String,
    pub tests: Vec<String>,
}

impl crate::Document for ReportDocument {
    const SCHEMA: &'static str = SCHEMA;
    const JSON_SCHEMA: &'static str = include_str!("../../../schemas/report.v1.schema.json");

    fn check(&self) -> Result<(), String> {
        let failed_required = self
            .tests
            .iter()
            .any(|t| t.required && !t.outcome.acceptable() && t.outcome != Outcome::Skipped);
        if self.passed && failed_required {
            return Err("says passed, but a required test did not pass".to_owned());
        }
        let mut ids = std::collections::BTreeSet::new();
        for test in &self.tests {
            if !ids.insert(&test.id) {
                return Err(format!("test {} is listed twice", test.id));
            }
        }
        Ok(())
    }
}

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
    /// The instance of the environment the run had (`deploy-lxc --instance`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    pub generation: u64,
    /// The configuration the candidate was qualified with, from the deployment: what is promoted
    /// with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<QualifiedConfiguration>,
    /// What changed since the head of a channel (`aqf-run run --compare CHANNEL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<crate::changes::Changes>,
    /// Each suite file and its sha256: what the candidate was qualified against.
    pub suites: Vec<SuiteFile>,
    /// Which of the suites' tests the run was asked for: only a run of all of them (or a merge
    /// of every slice of one) can promote.
    pub selection: Selection,
    /// RFC 3339, UTC.
    pub started: String,
    pub finished: String,
    pub counts: BTreeMap<String, u64>,
    pub tests: Vec<TestResult>,
    /// Requirements and what verifies them, unverified and failing first.
    pub requirements: Vec<RequirementResult>,
    /// `--history`: the tests that earlier runs and this one show flaky, the flakiest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flaky: Vec<FlakyTest>,
}

/// A test that passed only on a retry, or whose outcome flipped between runs of one candidate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlakyTest {
    pub id: String,
    /// Runs that ran it (the earlier ones and this one).
    pub runs: u64,
    /// Runs in which it passed only on a retry.
    pub retried: u64,
    /// Consecutive runs of the same candidate (what can flip), and how many of those pairs
    /// flipped between passing and failing.
    pub pairs: u64,
    pub flips: u64,
}

impl FlakyTest {
    /// Flips per pair, in percent (0 when no two runs were of one candidate).
    pub fn flip_rate(&self) -> u64 {
        (self.flips * 100).checked_div(self.pairs).unwrap_or(0)
    }
}

/// What a run was asked to leave out, as given on its command line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selection {
    /// `--tags`: only tests with one of these ran.
    pub tags: Vec<String>,
    /// `--skip-tags`: tests with one of these did not run.
    pub skip_tags: Vec<String>,
    /// `--partition K/N`: only slice K of N ran.
    pub partition: Option<Partition>,
    /// `--fail-fast`: after a required test failed, no other started.
    pub fail_fast: bool,
    /// A report `aqf-run merge` made: the slices it holds (every one of N, each once).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged: Vec<Partition>,
    /// `--history`: the slices were balanced by the tests' durations in earlier reports, not cut
    /// by each test's sha256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balanced: Option<Balanced>,
    /// `--affected`: only the tests touching these packages (a change's, from depgraph) ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affected: Option<Vec<String>>,
}

/// A split by measured durations: the whole plan, which every slice of one run shares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Balanced {
    /// sha256 of every test of the run with its slice (`ID<TAB>K<LF>`, sorted by id): what
    /// `aqf-run merge` recomputes from the slices' tests.
    pub plan: Sha256,
    /// How many of the run's tests had a duration in the history (the others were estimated).
    pub known: u64,
    /// How many earlier reports the durations came from.
    pub reports: u64,
}

impl Balanced {
    /// The plan's digest, from each test id and its slice (1-based).
    pub fn plan_digest<'a>(slices: impl IntoIterator<Item = (&'a str, u64)>) -> Sha256 {
        let mut pairs: Vec<(&str, u64)> = slices.into_iter().collect();
        pairs.sort_unstable();
        let text: String = pairs.iter().map(|(id, k)| format!("{id}\t{k}\n")).collect();
        Sha256::of(text)
    }
}

impl Selection {
    /// Why the run was not of the whole suite, if it was not.
    pub fn partial(&self) -> Option<String> {
        if !self.tags.is_empty() {
            return Some(format!(
                "the run was filtered with --tags {}",
                self.tags.join(",")
            ));
        }
        if !self.skip_tags.is_empty() {
            return Some(format!(
                "the run was filtered with --skip-tags {}",
                self.skip_tags.join(",")
            ));
        }
        if let Some(partition) = self.partition {
            return Some(format!(
                "it is partition {partition} of the suite; merge every partition with `aqf-run merge`"
            ));
        }
        if let Some(packages) = &self.affected {
            return Some(format!(
                "the run was narrowed with --affected to the tests touching {}: a quick check before merge, never a promotion",
                packages.join(", ")
            ));
        }
        None
    }
}

/// `whole suite`, or the options that narrowed it (`--tags smoke --partition 2/3`), then
/// `--fail-fast` and what a merge holds.
impl std::fmt::Display for Selection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut words = Vec::new();
        if !self.tags.is_empty() {
            words.push(format!("--tags {}", self.tags.join(",")));
        }
        if !self.skip_tags.is_empty() {
            words.push(format!("--skip-tags {}", self.skip_tags.join(",")));
        }
        if let Some(partition) = self.partition {
            words.push(format!("--partition {partition}"));
        }
        if let Some(packages) = &self.affected {
            words.push(format!("--affected {}", packages.join(",")));
        }
        if let Some(balanced) = &self.balanced {
            words.push(format!(
                "balanced by the durations of {} earlier report(s)",
                balanced.reports
            ));
        }
        if words.is_empty() {
            words.push("whole suite".to_owned());
        }
        if self.fail_fast {
            words.push("--fail-fast".to_owned());
        }
        if !self.merged.is_empty() {
            let merged: Vec<String> = self.merged.iter().map(ToString::to_string).collect();
            words.push(format!("(merged {})", merged.join(" ")));
        }
        f.write_str(&words.join(" "))
    }
}

/// Slice `index` of `count` (`K/N`, 1 <= K <= N).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Partition {
    pub index: u64,
    pub count: u64,
}

/// Text that is not `K/N` with 1 <= K <= N.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?}: expected K/N with 1 <= K <= N, such as 2/3")]
pub struct PartitionError(String);

impl std::str::FromStr for Partition {
    type Err = PartitionError;

    fn from_str(text: &str) -> Result<Self, PartitionError> {
        let number = |t: &str| {
            t.parse::<u64>()
                .ok()
                .filter(|_| t.bytes().all(|b| b.is_ascii_digit()))
        };
        match text
            .split_once('/')
            .and_then(|(k, n)| Some((number(k)?, number(n)?)))
        {
            Some((index, count)) if index >= 1 && index <= count => Ok(Self { index, count }),
            _ => Err(PartitionError(text.chars().take(40).collect())),
        }
    }
}

impl std::fmt::Display for Partition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Serialize for Partition {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Partition {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
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
    /// The base's Debian packages, when the candidate was baked from an OS lock.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub os_packages: Vec<QualifiedDeb>,
}

/// The configuration a candidate was qualified with: the deployment document's digest of it, and
/// the parts a person compares (the `[config]` values, each node's roles).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualifiedConfiguration {
    pub digest: Sha256,
    pub config: BTreeMap<String, String>,
    /// Node name to its roles.
    pub nodes: BTreeMap<String, Vec<String>>,
}

/// A Debian package of the candidate's base, as its OS lock locks it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualifiedDeb {
    pub name: String,
    pub version: String,
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
    /// Why the suite quarantines it (a known-flaky test that never gates a promotion).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantined: Option<String>,
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
        if self.selection.partition.is_some() && !self.selection.merged.is_empty() {
            return Err("a merged report is not one partition".to_owned());
        }
        Ok(())
    }
}

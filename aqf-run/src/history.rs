//! What earlier runs measured, from their `report.json` files: each test's duration, so that
//! `--partition K/N` can cut slices of equal time instead of equal count (as pytest-split and CI
//! test splitters do), and each test's outcomes, so that flakiness is measured rather than
//! guessed: a test that passed only on a retry, or whose outcome flipped between runs of one
//! candidate. Read-only: the reports are the history; CI keeps them as it keeps any build's
//! artifacts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use lastmile_documents::Document;
use lastmile_documents::report::{FlakyTest, Outcome, ReportDocument};
use lastmile_fs::Sha256;

/// The durations earlier reports recorded.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Each test id's recorded durations (ms), one per report that ran it.
    pub durations: BTreeMap<String, Vec<u64>>,
    /// Each test id's runs: when the run started, the candidate, the outcome.
    pub outcomes: BTreeMap<String, Vec<Run>>,
    /// How many reports were read.
    pub reports: u64,
}

/// One run of one test.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Run {
    /// RFC 3339, UTC: runs sort by it.
    pub started: String,
    pub candidate: Sha256,
    pub outcome: Outcome,
}

impl History {
    /// Read every report at `paths`: a `report.json` file, or a folder searched for them (an
    /// archive of earlier builds). A path that holds none is refused: a history that silently
    /// reads nothing would quietly fall back to counts.
    pub fn read(paths: &[PathBuf]) -> anyhow::Result<Self> {
        let mut history = History::default();
        for path in paths {
            let files = report_files(path)?;
            if files.is_empty() {
                bail!("--history {}: no report.json in it", path.display());
            }
            for file in files {
                let shown = file.display().to_string();
                let text = lastmile_fs::read_text(&file).with_context(|| format!("reading {shown}"))?;
                let report = ReportDocument::from_json(&text, &shown)?;
                history.add(&report);
            }
        }
        Ok(history)
    }

    /// Add one report's durations (tests that did not run, skipped ones, carry none).
    pub fn add(&mut self, report: &ReportDocument) {
        self.reports += 1;
        for test in &report.tests {
            if test.attempts.is_empty() || test.outcome == Outcome::Skipped {
                continue;
            }
            self.durations
                .entry(test.id.clone())
                .or_default()
                .push(test.duration_ms);
            self.outcomes.entry(test.id.clone()).or_default().push(Run {
                started: report.started.clone(),
                candidate: report.candidate.digest,
                outcome: test.outcome,
            });
        }
    }

    /// The tests this history and `current` (the run just made) show flaky, the flakiest first:
    /// passed only on a retry in some run, or passing in one run and failing in the next run of
    /// the same candidate (a change of candidate may fix or break a test; that is not a flip).
    pub fn flaky(&self, current: &ReportDocument) -> Vec<FlakyTest> {
        let mut all = self.clone();
        all.add(current);
        let mut flaky: Vec<FlakyTest> = all
            .outcomes
            .iter()
            .filter(|(id, _)| current.tests.iter().any(|t| &t.id == *id))
            .filter_map(|(id, runs)| {
                let mut runs = runs.clone();
                runs.sort();
                let retried = runs.iter().filter(|r| r.outcome == Outcome::Flaky).count() as u64;
                let (mut pairs, mut flips) = (0, 0);
                for pair in runs.windows(2) {
                    if pair[0].candidate == pair[1].candidate {
                        pairs += 1;
                        flips += u64::from(pair[0].outcome.acceptable() != pair[1].outcome.acceptable());
                    }
                }
                (retried > 0 || flips > 0).then(|| FlakyTest {
                    id: id.clone(),
                    runs: runs.len() as u64,
                    retried,
                    pairs,
                    flips,
                })
            })
            .collect();
        flaky.sort_by(|a, b| (b.flip_rate(), b.retried, &a.id).cmp(&(a.flip_rate(), a.retried, &b.id)));
        flaky
    }

    /// A test's expected duration: the median of what was recorded (robust to one slow run).
    pub fn expected(&self, id: &str) -> Option<u64> {
        let mut seen = self.durations.get(id)?.clone();
        seen.sort_unstable();
        Some(seen[seen.len() / 2])
    }
}

fn report_files(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let meta = std::fs::metadata(path).with_context(|| format!("--history {}", path.display()))?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(path).sort_by_file_name() {
        let entry = entry.with_context(|| format!("--history {}", path.display()))?;
        if entry.file_type().is_file() && entry.file_name() == "report.json" {
            files.push(entry.into_path());
        }
    }
    Ok(files)
}

//! The qualification report: the `lastmile.report/v1` document, and the same for people as
//! Markdown and a self-contained HTML page (requirement → tests → result, unverified and failing
//! requirements first, every test with its output).

mod html;
mod markdown;

use std::collections::BTreeMap;

use lastmile_documents::report::{Outcome, RequirementResult, TestResult};

pub use html::html;
pub use markdown::markdown;

/// Each requirement (from the suites' `[requirements]`, and any ID a test says it verifies) with
/// the tests that verify it and what that means for this candidate.
pub fn requirements(titles: &BTreeMap<String, String>, tests: &[TestResult]) -> Vec<RequirementResult> {
    let mut ids: BTreeMap<String, String> = titles.clone();
    for test in tests {
        for id in &test.verifies {
            ids.entry(id.clone()).or_default();
        }
    }
    let mut results: Vec<RequirementResult> = ids
        .into_iter()
        .map(|(id, title)| {
            let verifying: Vec<&TestResult> = tests.iter().filter(|t| t.verifies.contains(&id)).collect();
            let status = if verifying.iter().all(|t| t.outcome == Outcome::Skipped) {
                "unverified"
            } else if verifying.iter().all(|t| t.outcome.acceptable()) {
                "verified"
            } else {
                "failed"
            };
            RequirementResult {
                id,
                title,
                status: status.to_owned(),
                tests: verifying.iter().map(|t| t.id.clone()).collect(),
            }
        })
        .collect();
    let rank = |status: &str| match status {
        "failed" => 0,
        "unverified" => 1,
        _ => 2,
    };
    results.sort_by(|a, b| {
        rank(&a.status)
            .cmp(&rank(&b.status))
            .then_with(|| a.id.cmp(&b.id))
    });
    results
}

/// How the test `id` of the report ended (`skipped` when it did not run).
pub fn outcome_of(report: &lastmile_documents::report::ReportDocument, id: &str) -> Outcome {
    report
        .tests
        .iter()
        .find(|t| t.id == id)
        .map_or(Outcome::Skipped, |t| t.outcome)
}

/// The report's tests, those that did not pass first, then the flaky ones, by id.
pub fn failing_first(report: &lastmile_documents::report::ReportDocument) -> Vec<&TestResult> {
    let mut tests: Vec<&TestResult> = report.tests.iter().collect();
    tests.sort_by_key(|t| (t.outcome.acceptable(), t.outcome == Outcome::Flaky, t.id.clone()));
    tests
}

/// How many tests ended each way, and `total`.
pub fn counts(tests: &[TestResult]) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for test in tests {
        *counts.entry(test.outcome.word().to_owned()).or_insert(0) += 1;
    }
    counts.insert("total".to_owned(), tests.len() as u64);
    counts
}

/// The parts of a comparison with a channel's head, as table rows: a title and its lines, each
/// part that changed (and, when the head's report had none, that the configuration was not
/// compared).
pub fn change_rows(changes: &lastmile_documents::changes::Changes) -> Vec<(&'static str, Vec<String>)> {
    use lastmile_documents::changes::Change;
    let lines = |changes: &[Change]| changes.iter().map(Change::line).collect::<Vec<_>>();
    let mut rows = Vec::new();
    for (title, part) in [
        ("Python packages", &changes.packages),
        ("OS packages", &changes.os_packages),
        ("sources", &changes.sources),
    ] {
        if !part.is_empty() {
            rows.push((title, lines(part)));
        }
    }
    match &changes.configuration {
        Some(part) if !part.is_empty() => rows.push(("configuration", lines(part))),
        Some(_) => {}
        None => rows.push((
            "configuration",
            vec!["not compared: the head's report records none".to_owned()],
        )),
    }
    if rows.is_empty() {
        rows.push((
            "nothing",
            vec!["the same packages, sources and configuration".to_owned()],
        ));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use lastmile_documents::report::Attempt;

    pub(super) fn test(id: &str, outcome: Outcome, verifies: &[&str]) -> TestResult {
        TestResult {
            id: id.to_owned(),
            group: "g".into(),
            name: id.to_owned(),
            node: Some("n".into()),
            kind: "command".into(),
            required: true,
            tags: Vec::new(),
            verifies: verifies.iter().map(|v| (*v).to_owned()).collect(),
            outcome,
            duration_ms: 1500,
            quarantined: None,
            attempts: vec![Attempt {
                outcome,
                duration_ms: 1500,
                message: if outcome.acceptable() {
                    String::new()
                } else {
                    "exit status 1 <b>".into()
                },
                stdout: "out & about".into(),
                stderr: String::new(),
            }],
        }
    }

    #[test]
    fn failing_and_unverified_requirements_come_first() {
        let titles: BTreeMap<String, String> = [("R-1", "one"), ("R-2", "two"), ("R-3", "three")]
            .iter()
            .map(|(a, b)| ((*a).into(), (*b).into()))
            .collect();
        let tests = vec![
            test("a", Outcome::Passed, &["R-1"]),
            test("b", Outcome::Flaky, &["R-1"]),
            test("c", Outcome::Failed, &["R-2", "R-4"]),
        ];
        let result = requirements(&titles, &tests);
        let order: Vec<(&str, &str)> = result
            .iter()
            .map(|r| (r.id.as_str(), r.status.as_str()))
            .collect();
        assert_eq!(
            order,
            [
                ("R-2", "failed"),
                ("R-4", "failed"),
                ("R-3", "unverified"),
                ("R-1", "verified")
            ]
        );
        assert_eq!(counts(&tests)["total"], 3);
    }
}

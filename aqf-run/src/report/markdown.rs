//! The report as Markdown (for a merge request, a wiki page, or Jenkins' description).

use std::fmt::Write;

use lastmile_documents::report::ReportDocument;

pub fn markdown(report: &ReportDocument) -> String {
    let mut md = String::new();
    let verdict = if report.passed { "PASSED" } else { "FAILED" };
    let _ = writeln!(
        md,
        "# Qualification of candidate `{}`: {verdict}\n",
        report.candidate.digest.short(12)
    );
    facts(&mut md, report);
    changes(&mut md, report);
    requirements(&mut md, report);
    reliability(&mut md, report);
    let _ = writeln!(
        md,
        "## Tests\n\n| test | outcome | attempts | time | what failed |\n|---|---|---|---|---|"
    );
    for test in super::failing_first(report) {
        let message = test.attempts.last().map(|a| cell(&a.message)).unwrap_or_default();
        let _ = writeln!(
            md,
            "| `{}` | {} | {} | {:.1} s | {message} |",
            test.id,
            test.outcome.word(),
            test.attempts.len(),
            test.duration_ms as f64 / 1000.0
        );
    }
    md
}

/// The candidate, where it ran, against what, when, and the counts.
fn facts(md: &mut String, report: &ReportDocument) {
    let _ = writeln!(md, "| | |\n|---|---|");
    let _ = writeln!(md, "| candidate | `{}` |", report.candidate.digest);
    let _ = writeln!(md, "| image | `{}` |", report.candidate.image);
    let instance = report
        .instance
        .as_ref()
        .map(|i| format!(", instance {i}"))
        .unwrap_or_default();
    let _ = writeln!(
        md,
        "| environment | {} (generation {}{instance}) |",
        report.environment, report.generation
    );
    if let Some(configuration) = &report.configuration {
        let _ = writeln!(md, "| configuration | `{}` |", configuration.digest);
    }
    for suite in &report.suites {
        let _ = writeln!(
            md,
            "| suite | `{}` sha256 `{}` |",
            suite.file,
            suite.sha256.short(12)
        );
    }
    let _ = writeln!(md, "| selection | {} |", report.selection);
    let _ = writeln!(
        md,
        "| started | {} |\n| finished | {} |",
        report.started, report.finished
    );
    let counts: Vec<String> = report.counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
    let _ = writeln!(md, "| tests | {} |\n", counts.join(", "));
}

/// What changed since the channel's head, a row a part.
fn changes(md: &mut String, report: &ReportDocument) {
    let Some(changes) = &report.changes else {
        return;
    };
    let _ = writeln!(
        md,
        "## Changes since `{}`, the head of {}\n\n| what | changes |\n|---|---|",
        changes.head.short(12),
        changes.channel
    );
    for (title, rows) in super::change_rows(changes) {
        let _ = writeln!(md, "| {title} | {} |", cell(&rows.join("<br>")));
    }
    md.push('\n');
}

fn requirements(md: &mut String, report: &ReportDocument) {
    if report.requirements.is_empty() {
        return;
    }
    let _ = writeln!(
        md,
        "## Requirements\n\n| requirement | status | tests |\n|---|---|---|"
    );
    for req in &report.requirements {
        let tests: Vec<String> = req
            .tests
            .iter()
            .map(|id| format!("`{id}` {}", super::outcome_of(report, id).word()))
            .collect();
        let title = if req.title.is_empty() {
            String::new()
        } else {
            format!(" {}", cell(&req.title))
        };
        let tests = if tests.is_empty() {
            "no test".to_owned()
        } else {
            tests.join("<br>")
        };
        let _ = writeln!(
            md,
            "| **{}**{title} | {} | {tests} |",
            req.id,
            req.status.to_uppercase()
        );
    }
    md.push('\n');
}

/// The quarantined tests with their outcomes, and the tests history shows flaky: in sections of
/// their own, never hidden.
fn reliability(md: &mut String, report: &ReportDocument) {
    let quarantined: Vec<_> = report.tests.iter().filter(|t| t.quarantined.is_some()).collect();
    if !quarantined.is_empty() {
        let _ = writeln!(
            md,
            "## Quarantined tests\n\nRun and reported; never required, so they do not gate a promotion.\n\n| test | outcome | why quarantined |\n|---|---|---|"
        );
        for test in quarantined {
            let _ = writeln!(
                md,
                "| `{}` | {} | {} |",
                test.id,
                test.outcome.word(),
                cell(test.quarantined.as_deref().unwrap_or_default())
            );
        }
        md.push('\n');
    }
    if !report.flaky.is_empty() {
        let _ = writeln!(
            md,
            "## Flaky tests\n\nFrom the earlier runs given (`--history`) and this one.\n\n| test | runs | passed only on a retry | flipped (runs of one candidate) |\n|---|---|---|---|"
        );
        for flaky in &report.flaky {
            let _ = writeln!(
                md,
                "| `{}` | {} | {} | {} of {} ({} %) |",
                flaky.id,
                flaky.runs,
                flaky.retried,
                flaky.flips,
                flaky.pairs,
                flaky.flip_rate()
            );
        }
        md.push('\n');
    }
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

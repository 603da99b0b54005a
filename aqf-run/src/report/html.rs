//! The report as one self-contained HTML page (no scripts, no outside resources): a verdict, the
//! candidate and where it ran, requirements with their tests, every test with its attempts and
//! output, failing ones first.

use std::fmt::Write;

use lastmile_documents::report::ReportDocument;

const STYLE: &str = "
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{padding:22px 32px;color:#fff}
header.passed{background:#1f7a44}header.failed{background:#b3261e}
header h1{margin:0 0 4px;font-size:24px}header p{margin:0;opacity:.9}
main{padding:8px 32px 40px;max-width:1200px}
h2{margin:28px 0 10px;font-size:18px}
table{border-collapse:collapse;width:100%;background:#fff;box-shadow:0 1px 2px #0002}
th,td{padding:6px 10px;border-bottom:1px solid #e3e6ea;text-align:left;vertical-align:top}
th{background:#eef0f3;font-weight:600}
code{font:13px ui-monospace,monospace}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;color:#fff}
.passed,.verified{background:#1f7a44}.flaky{background:#b7791f}.failed{background:#b3261e}
.timed-out,.error{background:#7b1fa2}.skipped,.unverified{background:#6b7280}
details{margin:4px 0}summary{cursor:pointer}
pre{background:#0f1720;color:#e6edf3;padding:8px 10px;overflow:auto;max-height:320px;margin:4px 0;font-size:12px}
.meta td:first-child{width:160px;color:#555}
";

pub fn html(report: &ReportDocument) -> String {
    let mut page = header(report);
    candidate(&mut page, report);
    changes(&mut page, report);
    requirements(&mut page, report);
    reliability(&mut page, report);
    tests(&mut page, report);
    page.push_str("</main></body></html>\n");
    page
}

/// The page's head and the verdict.
fn header(report: &ReportDocument) -> String {
    let verdict = if report.passed { "passed" } else { "failed" };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Qualification of {digest}: {VERDICT}</title><style>{STYLE}</style></head><body>\n\
         <header class=\"{verdict}\"><h1 id=\"verdict\">Candidate {digest} {VERDICT}</h1><p>{passed_count} of {total} tests passed on {env} (generation {generation})</p></header>\n<main>\n",
        digest = e(&report.candidate.digest.short(12)),
        VERDICT = verdict.to_uppercase(),
        passed_count = report.tests.iter().filter(|t| t.outcome.acceptable()).count(),
        total = report.tests.len(),
        env = e(&report.environment),
        generation = report.generation,
    )
}

/// What was qualified, where and against what.
fn candidate(page: &mut String, report: &ReportDocument) {
    page.push_str("<h2>Candidate</h2><table class=\"meta\">");
    let mut rows = vec![
        (
            "digest",
            format!("<code>{}</code>", e(&report.candidate.digest.to_string())),
        ),
        ("image", format!("<code>{}</code>", e(&report.candidate.image))),
        (
            "environment",
            format!(
                "{} (generation {}{})",
                e(&report.environment),
                report.generation,
                report
                    .instance
                    .as_ref()
                    .map(|i| format!(", instance {}", e(i)))
                    .unwrap_or_default()
            ),
        ),
    ];
    if let Some(configuration) = &report.configuration {
        rows.push((
            "configuration",
            format!(
                "<code id=\"configuration\">{}</code>",
                e(&configuration.digest.to_string())
            ),
        ));
    }
    for (repo, commit) in &report.candidate.source_commits {
        rows.push(("source", format!("{} <code>{}</code>", e(repo), e(commit))));
    }
    for suite in &report.suites {
        rows.push((
            "suite",
            format!(
                "<code>{}</code> sha256 <code>{}</code>",
                e(&suite.file),
                e(&suite.sha256.short(16))
            ),
        ));
    }
    rows.push(("selection", e(&report.selection.to_string())));
    rows.push(("started", e(&report.started)));
    rows.push(("finished", e(&report.finished)));
    let counts: Vec<String> = report
        .counts
        .iter()
        .filter(|(k, _)| *k != "total")
        .map(|(k, v)| format!("{v} {}", e(k)))
        .collect();
    rows.push(("tests", counts.join(", ")));
    for (name, value) in rows {
        let _ = write!(page, "<tr><td>{name}</td><td>{value}</td></tr>");
    }
    page.push_str("</table>\n");
}

/// The quarantined tests with their outcomes, and the tests history shows flaky: in sections of
/// their own, never hidden.
fn reliability(page: &mut String, report: &ReportDocument) {
    let quarantined: Vec<_> = report.tests.iter().filter(|t| t.quarantined.is_some()).collect();
    if !quarantined.is_empty() {
        page.push_str(
            "<h2 id=\"quarantined\">Quarantined tests</h2><p>Run and reported; never required, so they do not gate a promotion.</p><table><tr><th>test</th><th>outcome</th><th>why quarantined</th></tr>",
        );
        for test in quarantined {
            let word = test.outcome.word();
            let _ = write!(
                page,
                "<tr><td><code>{}</code></td><td><span class=\"badge {word}\">{word}</span></td><td>{}</td></tr>",
                e(&test.id),
                e(test.quarantined.as_deref().unwrap_or_default())
            );
        }
        page.push_str("</table>\n");
    }
    if !report.flaky.is_empty() {
        page.push_str(
            "<h2 id=\"flaky\">Flaky tests</h2><p>From the earlier runs given (<code>--history</code>) and this one.</p><table><tr><th>test</th><th>runs</th><th>passed only on a retry</th><th>flipped (runs of one candidate)</th></tr>",
        );
        for flaky in &report.flaky {
            let _ = write!(
                page,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{} of {} ({} %)</td></tr>",
                e(&flaky.id),
                flaky.runs,
                flaky.retried,
                flaky.flips,
                flaky.pairs,
                flaky.flip_rate()
            );
        }
        page.push_str("</table>\n");
    }
}

/// What changed since the channel's head, a row a part.
fn changes(page: &mut String, report: &ReportDocument) {
    let Some(changes) = &report.changes else {
        return;
    };
    let _ = write!(
        page,
        "<h2>Changes since <code>{}</code>, the head of {}</h2><table id=\"changes\" class=\"meta\">",
        e(&changes.head.short(12)),
        e(&changes.channel)
    );
    for (title, rows) in super::change_rows(changes) {
        let rows: Vec<String> = rows.iter().map(|r| format!("<code>{}</code>", e(r))).collect();
        let _ = write!(page, "<tr><td>{title}</td><td>{}</td></tr>", rows.join("<br>"));
    }
    page.push_str("</table>\n");
}

/// Each requirement with its status and the tests that verify it.
fn requirements(page: &mut String, report: &ReportDocument) {
    if report.requirements.is_empty() {
        return;
    }
    page.push_str("<h2>Requirements</h2><table id=\"requirements\"><tr><th>requirement</th><th>status</th><th>verified by</th></tr>");
    for req in &report.requirements {
        let tests: Vec<String> = req
            .tests
            .iter()
            .map(|id| {
                let outcome = super::outcome_of(report, id);
                format!(
                    "<span class=\"badge {0}\">{0}</span> <code>{1}</code>",
                    outcome.word(),
                    e(id)
                )
            })
            .collect();
        let tests = if tests.is_empty() {
            "<em>no test</em>".to_owned()
        } else {
            tests.join("<br>")
        };
        let _ = write!(
            page,
            "<tr><td><b>{}</b> {}</td><td><span class=\"badge {2}\">{2}</span></td><td>{tests}</td></tr>",
            e(&req.id),
            e(&req.title),
            e(&req.status)
        );
    }
    page.push_str("</table>\n");
}

/// Every test, failing ones first, with each attempt's output.
fn tests(page: &mut String, report: &ReportDocument) {
    page.push_str("<h2>Tests</h2><table id=\"tests\"><tr><th>test</th><th>outcome</th><th>time</th><th>attempts and output</th></tr>");
    for test in super::failing_first(report) {
        let required = if test.required {
            ""
        } else {
            " <em>(not required)</em>"
        };
        let _ = write!(
            page,
            "<tr><td><code>{}</code>{required}<br><small>{} {}</small></td><td><span class=\"badge {3}\">{3}</span></td><td>{4:.1} s</td><td>{5}</td></tr>",
            e(&test.id),
            e(&test.kind),
            e(&test.tags.join(" ")),
            test.outcome.word(),
            test.duration_ms as f64 / 1000.0,
            attempts(test)
        );
    }
    page.push_str("</table>\n");
}

/// A test's attempts, the last failing one open.
fn attempts(test: &lastmile_documents::report::TestResult) -> String {
    let mut detail = String::new();
    for (n, attempt) in test.attempts.iter().enumerate() {
        let open = if !attempt.outcome.acceptable() && n + 1 == test.attempts.len() {
            " open"
        } else {
            ""
        };
        let _ = write!(
            detail,
            "<details{open}><summary>attempt {} <span class=\"badge {1}\">{1}</span> {2:.1} s {3}</summary>",
            n + 1,
            attempt.outcome.word(),
            attempt.duration_ms as f64 / 1000.0,
            e(&attempt.message)
        );
        if !attempt.stdout.is_empty() {
            let _ = write!(detail, "<pre>{}</pre>", e(&attempt.stdout));
        }
        if !attempt.stderr.is_empty() {
            let _ = write!(detail, "<pre>{}</pre>", e(&attempt.stderr));
        }
        detail.push_str("</details>");
    }
    detail
}

fn e(text: &str) -> String {
    html_escape::encode_safe(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_escaped() {
        let tests = vec![super::super::tests::test(
            "cam:g/a@n",
            lastmile_documents::report::Outcome::Failed,
            &[],
        )];
        let report = ReportDocument {
            schema: lastmile_documents::report::SCHEMA.into(),
            passed: false,
            candidate: lastmile_documents::report::QualifiedCandidate {
                digest: lastmile_fs::Sha256::of(b"x"),
                image: "autobuild-x.tar.gz".into(),
                source_commits: Default::default(),
                base: None,
                packages: Vec::new(),
                os_packages: Vec::new(),
            },
            environment: "lab".into(),
            instance: None,
            generation: 1,
            configuration: None,
            changes: None,
            suites: Vec::new(),
            selection: lastmile_documents::report::Selection::default(),
            started: "2026-11-30T00:00:00Z".into(),
            finished: "2026-11-30T00:00:01Z".into(),
            counts: super::super::counts(&tests),
            tests,
            requirements: Vec::new(),
            flaky: Vec::new(),
        };
        let page = html(&report);
        assert!(page.contains("exit status 1 &lt;b&gt;") && page.contains("out &amp; about"));
        assert!(!page.contains("<b>\"") && page.contains("FAILED"));
    }
}

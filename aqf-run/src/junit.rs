//! JUnit XML for Jenkins, valid against the xUnit plugin's schema (`junit-10.xsd`): one
//! `testsuite` per suite file with the candidate digest and environment as properties, one
//! `testcase` per test and node (and one per pytest case), failures, errors, skips, earlier
//! attempts of a retried test as `rerunFailure`/`rerunError`, and the output. Every count is
//! made once, from the test cases written, so `testsuites` is the sum of its `testsuite`s.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::ops::AddAssign;

use lastmile_documents::report::{Outcome, ReportDocument, SuiteFile, TestResult};

use crate::context::{Case, CaseOutcome};
use crate::runner::Ran;

/// The counts of a `testsuite` or `testsuites` element.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub tests: usize,
    pub failures: usize,
    pub errors: usize,
    pub skipped: usize,
    pub time_ms: u64,
}

impl Counts {
    fn of_test(test: &TestResult) -> Self {
        Self {
            tests: 1,
            failures: usize::from(test.outcome == Outcome::Failed),
            errors: usize::from(matches!(test.outcome, Outcome::Error | Outcome::TimedOut)),
            skipped: usize::from(test.outcome == Outcome::Skipped),
            time_ms: test.duration_ms,
        }
    }

    fn of_case(case: &Case) -> Self {
        Self {
            tests: 1,
            failures: usize::from(case.outcome == CaseOutcome::Failure),
            errors: usize::from(case.outcome == CaseOutcome::Error),
            skipped: usize::from(case.outcome == CaseOutcome::Skipped),
            // A case's time is part of its aqf test's.
            time_ms: 0,
        }
    }

    /// The attributes; `testsuites` has no `skipped` in Jenkins' schema.
    fn attributes(&self, skipped: bool) -> String {
        let skipped = if skipped {
            format!(" skipped=\"{}\"", self.skipped)
        } else {
            String::new()
        };
        format!(
            "tests=\"{}\" failures=\"{}\" errors=\"{}\"{skipped} time=\"{}\"",
            self.tests,
            self.failures,
            self.errors,
            seconds(self.time_ms)
        )
    }
}

impl AddAssign for Counts {
    fn add_assign(&mut self, other: Self) {
        self.tests += other.tests;
        self.failures += other.failures;
        self.errors += other.errors;
        self.skipped += other.skipped;
        self.time_ms += other.time_ms;
    }
}

/// The whole file. `suite_names`: each suite file's `name`, which begins its tests' ids.
pub fn write(
    report: &ReportDocument,
    runs: &[Ran],
    hostname: &str,
    suite_names: &BTreeMap<String, String>,
) -> String {
    let mut body = String::new();
    let mut total = Counts::default();
    for suite in &report.suites {
        let name = suite_names.get(&suite.file).unwrap_or(&suite.file);
        let prefix = format!("{name}:");
        let in_suite: Vec<&Ran> = runs.iter().filter(|r| r.result.id.starts_with(&prefix)).collect();
        total += testsuite(&mut body, report, suite, name, &in_suite, hostname);
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"aqf-run\" {}>\n{body}</testsuites>\n",
        total.attributes(false)
    )
}

/// One `testsuite` element; its counts.
fn testsuite(
    xml: &mut String,
    report: &ReportDocument,
    suite: &SuiteFile,
    name: &str,
    runs: &[&Ran],
    hostname: &str,
) -> Counts {
    let mut counts = Counts::default();
    let mut cases = String::new();
    for run in runs {
        counts += Counts::of_test(&run.result);
        testcase(&mut cases, &run.result);
        for case in &run.cases {
            counts += Counts::of_case(case);
            pytest_case(&mut cases, &run.result, name, case);
        }
    }
    let _ = writeln!(
        xml,
        "  <testsuite name=\"{}\" {} timestamp=\"{}\" hostname=\"{}\">",
        attr(name),
        counts.attributes(true),
        attr(report.started.trim_end_matches('Z')),
        attr(hostname)
    );
    properties(xml, report, suite);
    xml.push_str(&cases);
    xml.push_str("  </testsuite>\n");
    counts
}

fn properties(xml: &mut String, report: &ReportDocument, suite: &SuiteFile) {
    xml.push_str("    <properties>\n");
    let properties = vec![
        ("candidate.digest", report.candidate.digest.to_string()),
        ("candidate.image", report.candidate.image.clone()),
        ("environment", report.environment.clone()),
        ("generation", report.generation.to_string()),
        (
            "configuration.digest",
            report
                .configuration
                .as_ref()
                .map_or_else(|| "unknown".to_owned(), |c| c.digest.to_string()),
        ),
        ("suite.file", suite.file.clone()),
        ("suite.sha256", suite.sha256.to_string()),
        ("selection", report.selection.to_string()),
    ];
    let mut properties = properties;
    if let Some(instance) = &report.instance {
        properties.push(("instance", instance.clone()));
    }
    for (name, value) in properties {
        let _ = writeln!(
            xml,
            "      <property name=\"{name}\" value=\"{}\"/>",
            attr(&value)
        );
    }
    xml.push_str("    </properties>\n");
}

fn classname(test: &TestResult, suite: &str) -> String {
    match &test.node {
        Some(node) => format!("{suite}.{}.{node}", test.group),
        None => format!("{suite}.{}", test.group),
    }
}

fn testcase(xml: &mut String, test: &TestResult) {
    let suite = test.id.split(':').next().unwrap_or("");
    let _ = write!(
        xml,
        "    <testcase classname=\"{}\" name=\"{}\" time=\"{}\">",
        attr(&classname(test, suite)),
        attr(&test.name),
        seconds(test.duration_ms)
    );
    // Earlier attempts that failed: reruns (a flaky test's, or a failed test's before its last).
    for earlier in &test.attempts[..test.attempts.len().saturating_sub(1)] {
        let element = if earlier.outcome == Outcome::Failed {
            "rerunFailure"
        } else {
            "rerunError"
        };
        let _ = write!(
            xml,
            "<{element} type=\"{}\" message=\"{}\"><system-out>{}</system-out><system-err>{}</system-err></{element}>",
            earlier.outcome.word(),
            attr(&earlier.message),
            text(&earlier.stdout),
            text(&earlier.stderr)
        );
    }
    if let Some(last) = test.attempts.last() {
        let message = attr(&last.message);
        match test.outcome {
            Outcome::Failed => {
                let _ = write!(
                    xml,
                    "<failure type=\"failed\" message=\"{message}\">{}</failure>",
                    text(&last.message)
                );
            }
            Outcome::TimedOut | Outcome::Error => {
                let _ = write!(
                    xml,
                    "<error type=\"{}\" message=\"{message}\">{}</error>",
                    test.outcome.word(),
                    text(&last.message)
                );
            }
            Outcome::Skipped => {
                let _ = write!(xml, "<skipped message=\"{message}\"/>");
            }
            Outcome::Passed | Outcome::Flaky => {}
        }
        if !last.stdout.is_empty() {
            let _ = write!(xml, "<system-out>{}</system-out>", text(&last.stdout));
        }
        if !last.stderr.is_empty() {
            let _ = write!(xml, "<system-err>{}</system-err>", text(&last.stderr));
        }
    }
    xml.push_str("</testcase>\n");
}

fn pytest_case(xml: &mut String, test: &TestResult, suite: &str, case: &Case) {
    let classname = format!("{}.pytest.{}", classname(test, suite), case.classname);
    let _ = write!(
        xml,
        "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\">",
        attr(&classname),
        attr(&case.name),
        case.seconds.max(0.0)
    );
    match case.outcome.element() {
        Some(element @ ("failure" | "error")) => {
            let _ = write!(
                xml,
                "<{element} message=\"{}\">{}</{element}>",
                attr(&case.message),
                text(&case.text)
            );
        }
        Some(_) => {
            let _ = write!(xml, "<skipped message=\"{}\"/>", attr(&case.message));
        }
        None => {}
    }
    xml.push_str("</testcase>\n");
}

/// Seconds with a `.`, whatever the locale: `1.234`.
pub fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// Text as XML 1.0 allows it: escaped, and without the control characters it forbids (terminal
/// colours in test output, say), which would make the whole file unreadable.
pub fn text(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// An attribute value.
pub fn attr(raw: &str) -> String {
    text(raw)
        .replace('"', "&quot;")
        .replace('\n', "&#10;")
        .replace('\r', "&#13;")
        .replace('\t', "&#9;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_forbidden_characters_replaced() {
        assert_eq!(
            text("a < b && \u{1b}[31mred"),
            "a &lt; b &amp;&amp; \u{FFFD}[31mred"
        );
        assert_eq!(attr("say \"hi\"\n"), "say &quot;hi&quot;&#10;");
        assert_eq!(seconds(1234), "1.234");
        assert_eq!(seconds(5), "0.005");
    }
}

//! JUnit XML for Jenkins, valid against the xUnit plugin's schema (`junit-10.xsd`): one
//! `testsuite` per suite file with the candidate digest and environment as properties, one
//! `testcase` per test and node (and one per pytest case), failures, errors, skips, earlier
//! attempts of a retried test as `rerunFailure`/`rerunError`, and the output.

use std::collections::BTreeMap;
use std::fmt::Write;

use lastmile_documents::report::{Outcome, ReportDocument, TestResult};

use crate::runner::Ran;

/// The whole file.
/// `suite_names`: each suite file's `name`, which begins its tests' ids.
pub fn write(
    report: &ReportDocument,
    runs: &[Ran],
    hostname: &str,
    suite_names: &BTreeMap<String, String>,
) -> String {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let total_time: u64 = report.tests.iter().map(|t| t.duration_ms).sum();
    let count = |f: &dyn Fn(&TestResult) -> bool| report.tests.iter().filter(|t| f(t)).count();
    let _ = writeln!(
        xml,
        "<testsuites name=\"aqf-run\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{}\">",
        report.tests.len(),
        count(&|t| t.outcome == Outcome::Failed),
        count(&|t| matches!(t.outcome, Outcome::Error | Outcome::TimedOut)),
        seconds(total_time)
    );
    for suite in &report.suites {
        let suite_name = suite_names
            .get(&suite.file)
            .cloned()
            .unwrap_or_else(|| suite.file.clone());
        let in_suite: Vec<&Ran> = runs
            .iter()
            .filter(|r| r.result.id.starts_with(&format!("{suite_name}:")))
            .collect();
        let tests: Vec<&TestResult> = in_suite.iter().map(|r| &r.result).collect();
        let pytest_cases: usize = in_suite.iter().map(|r| r.cases.len()).sum();
        let _ = writeln!(
            xml,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\" timestamp=\"{}\" hostname=\"{}\">",
            attr(&suite_name),
            tests.len() + pytest_cases,
            tests.iter().filter(|t| t.outcome == Outcome::Failed).count()
                + in_suite
                    .iter()
                    .flat_map(|r| &r.cases)
                    .filter(|c| c.outcome == "failure")
                    .count(),
            tests
                .iter()
                .filter(|t| matches!(t.outcome, Outcome::Error | Outcome::TimedOut))
                .count()
                + in_suite
                    .iter()
                    .flat_map(|r| &r.cases)
                    .filter(|c| c.outcome == "error")
                    .count(),
            tests.iter().filter(|t| t.outcome == Outcome::Skipped).count()
                + in_suite
                    .iter()
                    .flat_map(|r| &r.cases)
                    .filter(|c| c.outcome == "skipped")
                    .count(),
            seconds(tests.iter().map(|t| t.duration_ms).sum()),
            attr(report.started.trim_end_matches('Z')),
            attr(hostname)
        );
        xml.push_str("    <properties>\n");
        let mut properties = vec![
            ("candidate.digest", report.candidate.digest.to_string()),
            ("candidate.image", report.candidate.image.clone()),
            ("environment", report.environment.clone()),
            ("generation", report.generation.to_string()),
            ("suite.file", suite.file.clone()),
            ("suite.sha256", suite.sha256.to_string()),
        ];
        if let Some(partition) = &report.partition {
            properties.push(("partition", partition.clone()));
        }
        for (name, value) in properties {
            let _ = writeln!(
                xml,
                "      <property name=\"{name}\" value=\"{}\"/>",
                attr(&value)
            );
        }
        xml.push_str("    </properties>\n");
        for run in in_suite {
            testcase(&mut xml, &run.result);
            for case in &run.cases {
                let classname = format!(
                    "{}.pytest.{}",
                    classname(&run.result, &suite_name),
                    case.classname
                );
                let _ = write!(
                    xml,
                    "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\">",
                    attr(&classname),
                    attr(&case.name),
                    case.seconds.max(0.0)
                );
                match case.outcome.as_str() {
                    "failure" | "error" => {
                        let _ = write!(
                            xml,
                            "<{0} message=\"{1}\">{2}</{0}>",
                            case.outcome,
                            attr(&case.message),
                            text(&case.text)
                        );
                    }
                    "skipped" => {
                        let _ = write!(xml, "<skipped message=\"{}\"/>", attr(&case.message));
                    }
                    _ => {}
                }
                xml.push_str("</testcase>\n");
            }
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
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
    let last = test.attempts.last();
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
    if let Some(last) = last {
        match test.outcome {
            Outcome::Failed => {
                let _ = write!(
                    xml,
                    "<failure type=\"failed\" message=\"{}\">{}</failure>",
                    attr(&last.message),
                    text(&last.message)
                );
            }
            Outcome::TimedOut | Outcome::Error => {
                let _ = write!(
                    xml,
                    "<error type=\"{}\" message=\"{}\">{}</error>",
                    test.outcome.word(),
                    attr(&last.message),
                    text(&last.message)
                );
            }
            Outcome::Skipped => {
                let _ = write!(xml, "<skipped message=\"{}\"/>", attr(&last.message));
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

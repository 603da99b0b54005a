//! pytest cases as tests of their own (`cases = true`), with a real pytest (the example suite's
//! pinned test tools, in the suite's venv): each case retried, timed and reported alone, the
//! requirements its marks name counted, and partitions cutting by case.

use serde_json::Value;

use crate::testenv::Env;

const TESTS: &str = r#"
import os
import time

import pytest


def test_ok():
    assert 1 + 1 == 2


def test_flaky():
    # Fails on its first attempt, passes on the second: the counter is the test's own.
    path = os.path.join(os.path.dirname(__file__), "tries")
    tries = int(open(path).read()) if os.path.exists(path) else 0
    open(path, "w").write(str(tries + 1))
    assert tries % 2 == 1


def test_slow():
    time.sleep(30)


@pytest.mark.requirement("R-2")
def test_marked():
    pass
"#;

fn suite(requirements: &str) -> String {
    format!(
        r#"
        name = "cases"
        [requirements]
        R-1 = "the suite as a whole"
        R-2 = "what one case checks"
        [groups.py]
        [[groups.py.tests]]
        name = "cases"
        kind = "pytest"
        path = "test_cases.py"
        requirements = "{requirements}"
        cases = true
        retries = 1
        timeout = "6s"
        verifies = ["R-1"]
        "#
    )
}

fn requirements() -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    root.join("examples/cam/acceptance/requirements.txt")
        .canonicalize()
        .unwrap()
        .display()
        .to_string()
}

fn test<'a>(report: &'a Value, case: &str) -> &'a Value {
    report["tests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == format!("cases:py/cases::test_cases.py::{case}"))
        .unwrap_or_else(|| panic!("no case {case} in {report}"))
}

fn requirement<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no requirement {id} in {report}"))
}

#[test]
fn each_case_is_retried_timed_and_reported_alone_with_its_requirements() {
    let env = Env::new(46, &[("monctl", &["monctl"])]);
    std::fs::write(env.path("test_cases.py"), TESTS).unwrap();
    env.suite(&suite(&requirements()));
    let out = env.run(&[]);
    // The slow case is required and timed out: the run fails, the other cases do not.
    assert_eq!(out.code, 1, "{}", out.stderr);
    let report = env.report();
    assert_eq!(report["counts"]["total"], 4, "{report}");
    assert_eq!(test(&report, "test_ok")["outcome"], "passed");
    let flaky = test(&report, "test_flaky");
    assert_eq!(flaky["outcome"], "flaky", "{flaky}");
    assert_eq!(flaky["attempts"].as_array().unwrap().len(), 2);
    let slow = test(&report, "test_slow");
    assert_eq!(slow["outcome"], "timed-out", "{slow}");
    // Its own limit, not the file's: the other cases' time is not in it.
    assert!(
        slow["attempts"][0]["duration_ms"].as_u64().unwrap() < 12_000,
        "{slow}"
    );
    let marked = test(&report, "test_marked");
    assert_eq!(marked["verifies"], serde_json::json!(["R-1", "R-2"]));
    let r2 = requirement(&report, "R-2");
    assert_eq!(r2["status"], "verified", "{r2}");
    assert_eq!(
        r2["tests"],
        serde_json::json!(["cases:py/cases::test_cases.py::test_marked"])
    );
}

#[test]
fn partitions_cut_by_case_and_an_unknown_requirement_mark_is_refused() {
    let env = Env::new(47, &[("monctl", &["monctl"])]);
    std::fs::write(env.path("test_cases.py"), TESTS.replace("time.sleep(30)", "pass")).unwrap();
    env.suite(&suite(&requirements()));
    let mut seen = Vec::new();
    for k in 1..=2 {
        let dir = format!("part-{k}");
        let out = env.aqf(&[
            "run",
            "--deployment",
            "deployment.json",
            "suite.toml",
            "--out-dir",
            &dir,
            "--no-progress",
            "--partition",
            &format!("{k}/2"),
        ]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let report = env.report_at(&format!("{dir}/report.json"));
        seen.extend(
            report["tests"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["id"].as_str().unwrap().to_owned()),
        );
    }
    seen.sort();
    let cases: Vec<String> = ["test_flaky", "test_marked", "test_ok", "test_slow"]
        .iter()
        .map(|c| format!("cases:py/cases::test_cases.py::{c}"))
        .collect();
    assert_eq!(seen, cases, "every case once, across the slices");

    std::fs::write(
        env.path("test_cases.py"),
        TESTS.replace("requirement(\"R-2\")", "requirement(\"R-9\")"),
    )
    .unwrap();
    let out = env.run(&[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "case test_cases.py::test_marked is marked with requirement \"R-9\", which is not one of [requirements]"
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn cases_are_collected_and_run_inside_the_node_with_the_suites_tools() {
    // The node is this host (the stand-in lxc-attach); its Python is the candidate's, pytest
    // comes with the suite's pinned tools sent in beside the tests.
    let env = Env::new(48, &[("a", &["monctl"])]);
    std::fs::write(
        env.path("test_node.py"),
        "import pytest\n\n\ndef test_one():\n    pass\n\n\n@pytest.mark.requirement(\"R-2\")\ndef test_two():\n    assert False, \"two fails\"\n",
    )
    .unwrap();
    env.suite(&format!(
        r#"
        name = "cases"
        [requirements]
        R-1 = "the suite as a whole"
        R-2 = "what one case checks"
        [groups.nodes]
        roles = ["monctl"]
        [[groups.nodes.tests]]
        name = "suite"
        kind = "pytest"
        on = "node"
        path = "test_node.py"
        requirements = "{}"
        cases = true
        verifies = ["R-1"]
        "#,
        requirements()
    ));
    let out = env.run(&[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let report = env.report();
    let outcome = |case: &str| {
        report["tests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == format!("cases:nodes/suite::test_node.py::{case}@a"))
            .map(|t| t["outcome"].as_str().unwrap().to_owned())
            .unwrap_or_else(|| panic!("no case {case} in {report}"))
    };
    assert_eq!(outcome("test_one"), "passed");
    assert_eq!(outcome("test_two"), "failed");
    let r2 = requirement(&report, "R-2");
    assert_eq!(r2["status"], "failed", "{r2}");
}

//! Running tests: outcomes, retries, time limits that take what a test started with them,
//! --fail-fast, --jobs, partitions, and the JUnit XML and report that come out.

use std::collections::BTreeSet;

use crate::testenv::{Env, messages};

const MIXED: &str = r#"
    name = "mixed"
    [requirements]
    R-1 = "passes"
    R-2 = "fails"

    [groups.host]

    [[groups.host.tests]]
    name = "passes"
    kind = "command"
    on = "host"
    run = "true"
    verifies = ["R-1"]

    [[groups.host.tests]]
    name = "fails"
    kind = "command"
    on = "host"
    run = "echo nope >&2; exit 3"
    retries = 2
    verifies = ["R-2"]

    [[groups.host.tests]]
    name = "flaky"
    kind = "command"
    on = "host"
    run = "test -f flaky.flag || { touch flaky.flag; exit 1; }"
    retries = 1

    [[groups.host.tests]]
    name = "too slow"
    kind = "command"
    on = "host"
    run = "sleep 30 & echo $! > child.pid; sleep 30"
    timeout = "1s"

    [[groups.host.tests]]
    name = "optional"
    kind = "command"
    on = "host"
    run = "false"
    required = false
"#;

#[test]
fn outcomes_retries_and_time_limits() {
    let env = Env::new(1, &[("monctl", &["monctl"])]);
    let out = env.suite(MIXED).run(&["--jobs", "2"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("2 required tests did not pass"),
        "{}",
        out.stderr
    );
    let report = env.report();
    assert_eq!(report["passed"], false);
    assert_eq!(env.outcome("mixed:host/passes"), "passed");
    assert_eq!(env.outcome("mixed:host/fails"), "failed");
    assert_eq!(
        messages(&report, "mixed:host/fails"),
        ["exit status 3 (expected 0)"; 3],
        "two retries after the first attempt"
    );
    assert_eq!(env.outcome("mixed:host/flaky"), "flaky");
    assert_eq!(messages(&report, "mixed:host/flaky").len(), 2);
    assert_eq!(env.outcome("mixed:host/too slow"), "timed-out");
    // What the test started in the background went with it.
    let pid = std::fs::read_to_string(env.path("child.pid")).unwrap();
    assert!(
        !crate::testenv::alive(pid.trim()),
        "the background child {} outlived its test",
        pid.trim()
    );
    // A failing test that is not required does not fail the candidate.
    assert_eq!(env.outcome("mixed:host/optional"), "failed");
    let status = |id: &str| {
        let requirements = report["requirements"].as_array().unwrap();
        requirements.iter().find(|r| r["id"] == id).unwrap()["status"].clone()
    };
    assert_eq!(
        (status("R-1"), status("R-2")),
        ("verified".into(), "failed".into())
    );
    assert_eq!(report["counts"]["total"], 5);
}

#[test]
fn fail_fast_starts_nothing_after_a_required_failure() {
    let env = Env::new(2, &[("monctl", &["monctl"])]);
    env.suite(
        r#"
        name = "ff"
        [groups.host]
        [[groups.host.tests]]
        name = "a fails"
        kind = "command"
        on = "host"
        run = "false"
        [[groups.host.tests]]
        name = "b"
        kind = "command"
        on = "host"
        run = "touch b.ran"
        "#,
    );
    let out = env.run(&["--jobs", "1", "--fail-fast"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(env.outcome("ff:host/b"), "skipped");
    assert!(!env.path("b.ran").exists());
    let report = env.report();
    assert!(messages(&report, "ff:host/b")[0].contains("--fail-fast"));
}

#[test]
fn jobs_run_tests_at_once() {
    let env = Env::new(3, &[("monctl", &["monctl"])]);
    // Each test waits for the other's file: they pass only if both run at the same time.
    let wait = |mine: &str, theirs: &str| {
        format!("touch {mine}; for i in $(seq 100); do test -f {theirs} && exit 0; sleep 0.1; done; exit 1")
    };
    env.suite(&format!(
        r#"
        name = "jobs"
        [groups.host]
        [[groups.host.tests]]
        name = "one"
        kind = "command"
        on = "host"
        run = "{}"
        [[groups.host.tests]]
        name = "two"
        kind = "command"
        on = "host"
        run = "{}"
        "#,
        wait("one.up", "two.up"),
        wait("two.up", "one.up")
    ));
    let out = env.run(&["--jobs", "2"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn partitions_together_run_every_test_once() {
    let env = Env::new(4, &[("monctl", &["monctl"]), ("sim", &["sim"])]);
    let mut suite = String::from("name = \"parts\"\n[groups.all]\nroles = [\"monctl\", \"sim\"]\n");
    for i in 0..10 {
        suite.push_str(&format!(
            "[[groups.all.tests]]\nname = \"t{i}\"\nkind = \"command\"\non = \"host\"\nrun = \"true\"\n"
        ));
    }
    env.suite(&suite);
    let mut seen = BTreeSet::new();
    let mut total = 0;
    for k in 1..=3 {
        let partition = format!("{k}/3");
        let out = env.run(&["--partition", &partition]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let report = env.report();
        assert_eq!(report["selection"]["partition"], partition.as_str());
        for test in report["tests"].as_array().unwrap() {
            total += 1;
            seen.insert(test["id"].as_str().unwrap().to_owned());
        }
    }
    // 10 tests on each of 2 nodes, each in exactly one slice.
    assert_eq!((total, seen.len()), (20, 20));
    let bad = env.run(&["--partition", "4/3"]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("\"4/3\": expected K/N"), "{}", bad.stderr);
}

#[test]
fn junit_counts_agree_with_the_report_and_jenkins_schema() {
    let env = Env::new(5, &[("monctl", &["monctl"])]);
    env.suite(MIXED).run(&["--jobs", "2"]);
    let junit = env.path("report/junit.xml");
    let xsd = lastmile_tests::workspace().join("tests/junit/junit-10.xsd");
    let lint = lastmile_tests::run_command(
        std::process::Command::new("xmllint")
            .arg("--noout")
            .arg("--schema")
            .arg(&xsd)
            .arg(&junit),
        None,
    );
    assert_eq!(lint.code, 0, "not valid JUnit XML: {}", lint.stderr);
    let xml = std::fs::read_to_string(&junit).unwrap();
    let count = |element: &str, attribute: &str| -> Vec<u64> {
        xml.match_indices(&format!("<{element} "))
            .map(|(at, _)| {
                let tag = &xml[at..at + xml[at..].find('>').unwrap()];
                let value = tag.split(&format!(" {attribute}=\"")).nth(1).unwrap();
                value[..value.find('"').unwrap()].parse().unwrap()
            })
            .collect()
    };
    let report = env.report();
    assert_eq!(
        count("testsuites", "tests"),
        [report["counts"]["total"].as_u64().unwrap()]
    );
    assert_eq!(count("testsuite", "tests"), count("testsuites", "tests"));
    assert_eq!(count("testsuite", "failures"), count("testsuites", "failures"));
    assert_eq!(count("testsuite", "failures"), [2], "fails, optional");
    assert_eq!(count("testsuite", "errors"), [1], "too slow");
    assert_eq!(xml.matches("<testcase ").count(), 5);
    assert_eq!(
        xml.matches("<rerunFailure").count(),
        3,
        "two of fails, one of flaky"
    );
}

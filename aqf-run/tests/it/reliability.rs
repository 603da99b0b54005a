//! Flakiness measured, not guessed: across three recorded runs of one candidate, a test whose
//! outcome flips and one that passes only on a retry are listed with their rates; a stable test
//! is not. Quarantine, reviewed in the suite, runs a known-flaky test and reports it in a section
//! of its own; a required test is never quarantined, and a name that is no test is refused.

use crate::testenv::Env;

/// `flipper` fails on every second run; `retrier` fails its first attempt in every run and
/// passes its retry; `steady` always passes. The counters live in the test's folder.
fn suite(env: &Env) -> String {
    let flips = env.path("flips");
    let tries = env.path("tries");
    format!(
        r#"
        name = "rel"
        [groups.host]
        [[groups.host.tests]]
        name = "flipper"
        kind = "command"
        on = "host"
        run = "n=$(cat {flips} 2>/dev/null || echo 0); echo $((n + 1)) > {flips}; [ $((n % 2)) -eq 0 ]"
        required = false
        [[groups.host.tests]]
        name = "retrier"
        kind = "command"
        on = "host"
        run = "n=$(cat {tries} 2>/dev/null || echo 0); echo $((n + 1)) > {tries}; [ $((n % 2)) -eq 1 ]"
        retries = 1
        [[groups.host.tests]]
        name = "steady"
        kind = "command"
        on = "host"
        run = "true"
        "#,
        flips = flips.display(),
        tries = tries.display()
    )
}

#[test]
fn three_recorded_runs_measure_which_tests_are_flaky() {
    let env = Env::new(42, &[("monctl", &["monctl"])]);
    env.suite(&suite(&env));
    for run in 1..=2 {
        let out = env.run(&[]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let dir = env.path(&format!("history/{run}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(env.path("report/report.json"), dir.join("report.json")).unwrap();
        // Runs are ordered by when they started: these two on earlier days.
        env.edit(&format!("history/{run}/report.json"), |r| {
            r["started"] = serde_json::json!(format!("2026-12-0{run}T00:00:00Z"));
        });
    }
    let out = env.run(&["--history", "history"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report = env.report();
    let flaky = report["flaky"].as_array().unwrap();
    let find = |name: &str| {
        flaky
            .iter()
            .find(|f| f["id"] == format!("rel:host/{name}"))
            .cloned()
    };
    // Passed, failed, passed: two flips in two pairs of runs of one candidate.
    let flipper = find("flipper").expect("flipper is flaky");
    assert_eq!(
        (&flipper["runs"], &flipper["flips"], &flipper["pairs"]),
        (&3.into(), &2.into(), &2.into()),
        "{flipper}"
    );
    // Passed only on its retry, every run.
    let retrier = find("retrier").expect("retrier is flaky");
    assert_eq!(retrier["retried"], 3, "{retrier}");
    assert_eq!(retrier["flips"], 0, "{retrier}");
    assert!(find("steady").is_none(), "{report}");
    // The flakiest first, and shown to people.
    assert_eq!(flaky[0]["id"], "rel:host/flipper");
    let markdown = std::fs::read_to_string(env.path("report/report.md")).unwrap();
    assert!(
        markdown.contains("| `rel:host/flipper` | 3 | 0 | 2 of 2 (100 %) |"),
        "{markdown}"
    );
    let page = std::fs::read_to_string(env.path("report/report.html")).unwrap();
    assert!(page.contains("<h2 id=\"flaky\">Flaky tests</h2>"));
}

#[test]
fn a_change_of_candidate_between_runs_is_not_a_flip() {
    let env = Env::new(43, &[("monctl", &["monctl"])]);
    env.suite(&suite(&env));
    let out = env.run(&[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    std::fs::create_dir_all(env.path("history/1")).unwrap();
    std::fs::copy(env.path("report/report.json"), env.path("history/1/report.json")).unwrap();
    env.edit("history/1/report.json", |r| {
        r["started"] = serde_json::json!("2026-12-01T00:00:00Z");
        // Another candidate ran then; this run is of the deployed one.
        r["candidate"]["digest"] = serde_json::json!("0".repeat(64));
    });
    let out = env.run(&["--history", "history"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report = env.report();
    let flipper = report["flaky"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "rel:host/flipper")
        .cloned();
    assert!(flipper.is_none(), "{report}");
}

#[test]
fn quarantine_runs_and_reports_a_test_and_never_takes_a_required_one() {
    let env = Env::new(44, &[("monctl", &["monctl"])]);
    // (The test kit takes the indentation every line shares off a suite: these keep it.)
    let base = suite(&env);
    env.suite(&format!(
        "{base}\n        [quarantine]\n        \"host/flipper\" = \"flips on every second run: issue 812\"\n"
    ));
    // Its first run passes, the second fails: reported both times, in its own section, and the
    // run passes (it is not required).
    for outcome in ["passed", "failed"] {
        let out = env.run(&[]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let report = env.report();
        let test = report["tests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == "rel:host/flipper")
            .cloned()
            .unwrap();
        assert_eq!(test["outcome"], outcome);
        assert_eq!(test["quarantined"], "flips on every second run: issue 812");
        let markdown = std::fs::read_to_string(env.path("report/report.md")).unwrap();
        assert!(
            markdown.contains(&format!(
                "| `rel:host/flipper` | {outcome} | flips on every second run: issue 812 |"
            )),
            "{markdown}"
        );
    }
    // A required test: refused at the line that names it.
    env.suite(&format!(
        "{base}\n        [quarantine]\n        \"host/steady\" = \"slow DNS\"\n"
    ));
    let out = env.run(&[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("suite.toml:")
            && out.stderr.contains(
                "quarantine.\"host/steady\": host/steady is required; a required test is never quarantined"
            ),
        "{}",
        out.stderr
    );
    // A name that is no test: a typo would quarantine nothing.
    env.suite(&format!(
        "{base}\n        [quarantine]\n        \"host/flipperr\" = \"x\"\n"
    ));
    let out = env.run(&[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("quarantine.\"host/flipperr\": no test of the suite"),
        "{}",
        out.stderr
    );
}

//! A quick check before merge: `aqf-run run --affected` with depgraph's answer for a change to
//! katsim runs the tests on the nodes whose services run katsim's programs (the sim node, from
//! the candidate's manifest), not the others, and such a run never promotes.

use lastmile_tests::lab::Lab;
use lastmile_tests::{run_command, tool, workspace};

use super::{aqf, deployed};

#[test]
fn a_change_runs_only_the_tests_it_touches_and_never_promotes() {
    let lab = Lab::new("affected", 19, "timeout = \"60s\"");
    let dir = tempfile::tempdir().unwrap();
    let deployment = deployed(&lab, dir.path());
    let graph = dir.path().join("graph.json");
    let scanned = run_command(
        std::process::Command::new(tool("depgraph"))
            .arg(workspace().join("examples/cam"))
            .arg("-q")
            .arg("-o")
            .arg(&graph),
        None,
    );
    assert_eq!(scanned.code, 0, "{}", scanned.stderr);
    let affected = dir.path().join("affected.json");
    let asked = run_command(
        std::process::Command::new(tool("depgraph"))
            .arg("affected")
            .arg(&graph)
            .args(["--changed", "katsim", "--format", "json", "-o"])
            .arg(&affected),
        None,
    );
    assert_eq!(asked.code, 0, "{}", asked.stderr);
    let cache = workspace().join("target/lastmile/cache");
    let suite = workspace().join("examples/cam/acceptance.toml");
    let out = aqf(
        &[
            "run",
            "--deployment",
            deployment.to_str().unwrap(),
            suite.to_str().unwrap(),
            "--out-dir",
            "report",
            "--cache-dir",
            cache.to_str().unwrap(),
            "--affected",
            affected.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    lastmile_tests::schema::assert_valid(&report, "report.v1");
    assert_eq!(report["selection"]["affected"], serde_json::json!(["katsim"]));
    let tests = report["tests"].as_array().unwrap();
    let names: Vec<&str> = tests.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert!(
        names.contains(&"katsim runs") && names.contains(&"katsim is the pinned version"),
        "{names:?}"
    );
    for test in tests {
        assert_eq!(test["node"], "sim", "a test katsim does not touch ran: {test}");
    }
    // The other nodes' tests did not run: a quick check, never the whole suite.
    let promoted = aqf(
        &[
            "promote",
            "report/report.json",
            "--deployment",
            deployment.to_str().unwrap(),
            "--promotions",
            "promotions",
        ],
        dir.path(),
    );
    assert_eq!(promoted.code, 1, "{}", promoted.stderr);
    assert!(
        promoted
            .stderr
            .contains("the run was narrowed with --affected to the tests touching katsim"),
        "{}",
        promoted.stderr
    );
}

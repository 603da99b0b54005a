//! Slices balanced by measured time: given earlier reports (`--history`), `--partition K/N` cuts
//! the suite so every slice takes about the same time; the same history gives the same slices;
//! the slices merge into one report that promotes, and a missing, moved or foreign slice is
//! refused.

use serde_json::json;

use crate::promote::promote;
use crate::testenv::Env;

/// Twenty tests on the host with skewed durations (as recorded in a history, not slept): a few
/// long ones, many short ones.
fn skewed() -> Vec<(String, u64)> {
    (0..20)
        .map(|i| {
            let ms = match i {
                0 => 9000,
                1 | 2 => 5000,
                3..=6 => 2000,
                _ => 300 + 100 * i,
            };
            (format!("t{i:02}"), ms)
        })
        .collect()
}

fn suite() -> String {
    let mut text = String::from("name = \"skew\"\n[groups.host]\n");
    for (name, _) in skewed() {
        text.push_str(&format!(
            "[[groups.host.tests]]\nname = \"{name}\"\nkind = \"command\"\non = \"host\"\nrun = \"true\"\n"
        ));
    }
    text
}

fn run_slice(env: &Env, k: u64, history: &str, out: &str) -> lastmile_tests::Output {
    env.aqf(&[
        "run",
        "--deployment",
        "deployment.json",
        "suite.toml",
        "--out-dir",
        out,
        "--no-progress",
        "--partition",
        &format!("{k}/4"),
        "--history",
        history,
    ])
}

/// The slowest slice's recorded time, and the ideal (the total over the slices).
fn slowest_and_ideal(env: &Env, dir: &str) -> (u64, u64) {
    let durations: std::collections::BTreeMap<String, u64> = skewed()
        .into_iter()
        .map(|(name, ms)| (format!("skew:host/{name}"), ms))
        .collect();
    let mut slowest = 0;
    for k in 1..=4 {
        let report = env.report_at(&format!("{dir}-{k}/report.json"));
        let time: u64 = report["tests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| durations[t["id"].as_str().unwrap()])
            .sum();
        slowest = slowest.max(time);
    }
    (slowest, durations.values().sum::<u64>() / 4)
}

/// A whole run, kept as the history with the skewed durations a slow suite's would have.
fn with_history(block: u8) -> Env {
    let env = Env::new(block, &[("monctl", &["monctl"])]);
    env.suite(&suite());
    assert_eq!(env.run(&[]).code, 0);
    std::fs::create_dir_all(env.path("history/build-1")).unwrap();
    std::fs::copy(
        env.path("report/report.json"),
        env.path("history/build-1/report.json"),
    )
    .unwrap();
    let skew = skewed();
    env.edit("history/build-1/report.json", |r| {
        for test in r["tests"].as_array_mut().unwrap() {
            let name = test["name"].as_str().unwrap().to_owned();
            let ms = skew.iter().find(|(n, _)| *n == name).unwrap().1;
            test["duration_ms"] = json!(ms);
        }
    });
    for k in 1..=4 {
        let out = run_slice(&env, k, "history", &format!("slice-{k}"));
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    env
}

#[test]
fn slices_balanced_by_history_take_the_same_time_and_stay_put() {
    let env = with_history(40);
    let (slowest, ideal) = slowest_and_ideal(&env, "slice");
    assert!(
        slowest * 100 <= ideal * 110,
        "the slowest slice takes {slowest} ms, the ideal is {ideal} ms"
    );
    let first = env.report_at("slice-1/report.json");
    assert_eq!(first["selection"]["balanced"]["reports"], 1);
    assert_eq!(first["selection"]["balanced"]["known"], 20);
    // The same history and suite give the same slices.
    for k in 1..=4 {
        assert_eq!(run_slice(&env, k, "history", &format!("again-{k}")).code, 0);
        let ids = |dir: &str| -> Vec<serde_json::Value> {
            env.report_at(&format!("{dir}-{k}/report.json"))["tests"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["id"].clone())
                .collect()
        };
        assert_eq!(ids("slice"), ids("again"), "slice {k} moved");
    }
    // Without a history the hash split is uneven on the same suite: what balancing is for.
    hash_slices(&env);
    let (hash_slowest, _) = slowest_and_ideal(&env, "hash");
    assert!(
        hash_slowest > slowest,
        "hash {hash_slowest} ms, balanced {slowest} ms"
    );
}

fn hash_slices(env: &Env) {
    for k in 1..=4 {
        let out = env.aqf(&[
            "run",
            "--deployment",
            "deployment.json",
            "suite.toml",
            "--out-dir",
            &format!("hash-{k}"),
            "--no-progress",
            "--partition",
            &format!("{k}/4"),
        ]);
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
}

#[test]
fn balanced_slices_merge_into_one_that_promotes_and_a_missing_or_moved_test_is_refused() {
    let env = with_history(41);
    let merge = |reports: &[&str]| {
        let mut args = vec!["merge"];
        args.extend_from_slice(reports);
        args.extend_from_slice(&["-o", "merged.json"]);
        env.aqf(&args)
    };
    let slices = [
        "slice-1/report.json",
        "slice-2/report.json",
        "slice-3/report.json",
        "slice-4/report.json",
    ];
    let out = merge(&slices[..3]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("partition 4/4 missing"), "{}", out.stderr);
    // A test moved from one balanced slice to another: not the plan the slices were cut from.
    std::fs::copy(env.path(slices[1]), env.path("moved-2.json")).unwrap();
    std::fs::copy(env.path(slices[0]), env.path("moved-1.json")).unwrap();
    let moved = env.report_at(slices[0])["tests"][0].clone();
    env.edit("moved-1.json", |r| {
        r["tests"].as_array_mut().unwrap().remove(0);
    });
    env.edit("moved-2.json", |r| r["tests"].as_array_mut().unwrap().push(moved));
    let out = merge(&["moved-1.json", "moved-2.json", slices[2], slices[3]]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("the slices' tests are not the plan they were cut from"),
        "{}",
        out.stderr
    );
    // A balanced slice and a hash slice are not slices of one run.
    hash_slices(&env);
    let out = merge(&[slices[0], slices[1], slices[2], "hash-4/report.json"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("their splits"), "{}", out.stderr);

    let out = merge(&slices);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let merged = env.report_at("merged.json");
    assert_eq!(merged["counts"]["total"], 20);
    let out = promote(&env, "merged.json", &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn a_history_that_holds_no_report_is_refused() {
    let env = Env::new(45, &[("monctl", &["monctl"])]);
    env.suite(&suite());
    std::fs::create_dir_all(env.path("empty")).unwrap();
    let out = run_slice(&env, 1, "empty", "out");
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("--history empty: no report.json in it"),
        "{}",
        out.stderr
    );
}

//! The promotion gate: only a report of the whole suite, every test run and every required one
//! passed, on the deployment given, which every node confirms it runs now, with the image still
//! a regular file hashing to the digest, moves a channel; a channel is a folder whose head is
//! derived from its log, consistent after a kill at any step.

use lastmile_tests::Output;
use serde_json::json;

use crate::promote::{PASSING, promote};
use crate::testenv::Env;

/// Refused with exit 1 naming `reason`, and the channel did not move.
fn refused(env: &Env, out: &Output, reason: &str) {
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains(reason), "{reason:?} not in: {}", out.stderr);
    assert!(
        !env.path("promotions/stable/log.jsonl").exists(),
        "the channel moved"
    );
}

const TAGGED: &str = r#"
    name = "p"
    [groups.host]
    [[groups.host.tests]]
    name = "a"
    kind = "command"
    on = "host"
    run = "true"
    tags = ["smoke"]
    [[groups.host.tests]]
    name = "b"
    kind = "command"
    on = "host"
    run = "true"
"#;

#[test]
fn a_report_with_tests_that_did_not_run_or_no_tests_is_refused() {
    let env = Env::new(30, &[("monctl", &["monctl"])]);
    assert_eq!(env.suite(PASSING).run(&[]).code, 0);
    std::fs::copy(env.path("report/report.json"), env.path("passed.json")).unwrap();
    // A required test skipped, the report still saying it passed.
    env.edit("report/report.json", |r| {
        r["tests"][1]["outcome"] = json!("skipped")
    });
    let out = promote(&env, "report/report.json", &[]);
    refused(
        &env,
        &out,
        "1 tests did not run (skipped: p:host/b); every test of the suite must run",
    );
    // No tests at all.
    env.edit("report/report.json", |r| {
        r["tests"] = json!([]);
        r["counts"] = json!({"total": 0});
    });
    let out = promote(&env, "report/report.json", &[]);
    refused(&env, &out, "the report holds no tests");
    // Says passed, but a required test failed: the tests are read, not the verdict.
    std::fs::copy(env.path("passed.json"), env.path("report/report.json")).unwrap();
    env.edit("report/report.json", |r| {
        r["tests"][0]["required"] = json!(false);
        r["tests"][0]["outcome"] = json!("failed");
    });
    assert_eq!(promote(&env, "report/report.json", &[]).code, 0);
}

#[test]
fn a_filtered_run_records_its_filter_and_is_refused() {
    let env = Env::new(31, &[("monctl", &["monctl"])]);
    env.suite(TAGGED);
    assert_eq!(env.run(&["--tags", "smoke"]).code, 0);
    let report = env.report();
    assert_eq!(report["selection"]["tags"], json!(["smoke"]));
    assert_eq!(report["counts"]["total"], 1);
    let out = promote(&env, "report/report.json", &[]);
    refused(
        &env,
        &out,
        "the run was filtered with --tags smoke; only a run of the whole suite promotes",
    );
    assert_eq!(env.run(&["--skip-tags", "smoke"]).code, 0);
    assert_eq!(env.report()["selection"]["skip_tags"], json!(["smoke"]));
    let out = promote(&env, "report/report.json", &[]);
    refused(&env, &out, "the run was filtered with --skip-tags smoke");
    // Every report says how it was selected, for people too.
    let markdown = std::fs::read_to_string(env.path("report/report.md")).unwrap();
    assert!(
        markdown.contains("| selection | --skip-tags smoke |"),
        "{markdown}"
    );
    // --fail-fast is recorded; a whole run with it that ran everything promotes.
    assert_eq!(env.run(&["--fail-fast"]).code, 0);
    let report = env.report();
    assert_eq!(report["selection"]["fail_fast"], true);
    let out = promote(&env, "report/report.json", &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn partitions_promote_only_merged_whole() {
    let env = Env::new(32, &[("monctl", &["monctl"]), ("sim", &["sim"])]);
    let mut suite = String::from("name = \"parts\"\n[groups.all]\nroles = [\"monctl\", \"sim\"]\n");
    for i in 0..8 {
        suite.push_str(&format!(
            "[[groups.all.tests]]\nname = \"t{i}\"\nkind = \"command\"\non = \"host\"\nrun = \"true\"\n"
        ));
    }
    env.suite(&suite);
    for k in 1..=3 {
        let dir = format!("slice-{k}");
        let out = env.aqf(&[
            "run",
            "--deployment",
            "deployment.json",
            "suite.toml",
            "--out-dir",
            &dir,
            "--no-progress",
            "--partition",
            &format!("{k}/3"),
        ]);
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    let out = promote(&env, "slice-1/report.json", &[]);
    refused(
        &env,
        &out,
        "it is partition 1/3 of the suite; merge every partition",
    );
    let merge = |reports: &[&str]| {
        let mut args = vec!["merge"];
        args.extend_from_slice(reports);
        args.extend_from_slice(&["-o", "merged.json"]);
        env.aqf(&args)
    };
    let (one, two, three) = (
        "slice-1/report.json",
        "slice-2/report.json",
        "slice-3/report.json",
    );
    let out = merge(&[one, three]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("partition 2/3 missing"), "{}", out.stderr);
    let out = merge(&[one, two, one]);
    assert!(out.stderr.contains("are both partition 1/3"), "{}", out.stderr);
    // A test moved into a slice it is not in: not a slice of this suite.
    std::fs::copy(env.path(two), env.path("moved.json")).unwrap();
    let first_test = env.report_at(one)["tests"][0].clone();
    env.edit("moved.json", |r| {
        r["tests"].as_array_mut().unwrap().push(first_test)
    });
    let out = merge(&[one, "moved.json", three]);
    assert!(out.stderr.contains("is not in partition 2/3"), "{}", out.stderr);
    let out = merge(&[three, one, two]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let merged = env.report_at("merged.json");
    assert_eq!(merged["selection"]["merged"], json!(["1/3", "2/3", "3/3"]));
    assert_eq!(merged["selection"]["partition"], json!(null));
    assert_eq!(merged["counts"]["total"], 16);
    let out = promote(&env, "merged.json", &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn the_deployment_is_required_and_must_be_the_reports() {
    let env = Env::new(33, &[("monctl", &["monctl"]), ("sim", &["sim"])]);
    assert_eq!(env.suite(PASSING).run(&[]).code, 0);
    let out = env.aqf(&["promote", "report/report.json", "--promotions", "promotions"]);
    refused(
        &env,
        &out,
        "no --deployment: a candidate is promoted only with the deployment it was qualified on",
    );
    // The same candidate deployed again: generation 4 serves, the report is about 3.
    let mut env = env;
    let digest = env.digest.clone();
    env.deploy(&[("monctl", &["monctl"]), ("sim", &["sim"])], &digest, 4);
    let out = promote(&env, "report/report.json", &[]);
    refused(
        &env,
        &out,
        "the report is about generation 3 of lab, deployment.json says generation 4 serves",
    );
    env.deploy(&[("monctl", &["monctl"]), ("sim", &["sim"])], &digest, 3);
    // A node of the deployment that is not running.
    env.edit("deployment.json", |d| d["nodes"][1]["state"] = json!("failed"));
    let out = promote(&env, "report/report.json", &[]);
    refused(&env, &out, "deployment.json: node sim is failed, not running");
}

#[test]
fn every_node_is_asked_what_it_runs_now() {
    let mut env = Env::new(34, &[("monctl", &["monctl"]), ("sim", &["sim"])]);
    assert_eq!(env.suite(PASSING).run(&[]).code, 0);
    // Since the report, sim was given another candidate; deployment.json was not rewritten.
    let node_env = env.path("lxc/lmtest-aqf-sim-3/rootfs/etc/lastmile/node.env");
    let other = lastmile_fs::Sha256::of(b"other").to_string();
    let text = std::fs::read_to_string(&node_env).unwrap();
    std::fs::write(&node_env, text.replace(&env.digest, &other)).unwrap();
    let out = promote(&env, "report/report.json", &[]);
    refused(
        &env,
        &out,
        &format!(
            "node sim says LASTMILE_CANDIDATE=\"{other}\", not \"{}\"",
            env.digest
        ),
    );
    // A node that cannot be asked refuses too.
    std::fs::remove_dir_all(env.path("lxc/lmtest-aqf-sim-3")).unwrap();
    let out = promote(&env, "report/report.json", &[]);
    refused(&env, &out, "node sim could not be asked what it runs");
    let digest = env.digest.clone();
    env.deploy(&[("monctl", &["monctl"]), ("sim", &["sim"])], &digest, 3);
    assert_eq!(promote(&env, "report/report.json", &[]).code, 0);
}

#[test]
fn the_image_must_be_a_regular_file_that_still_hashes_to_the_digest() {
    let env = Env::new(35, &[("monctl", &["monctl"])]);
    assert_eq!(env.suite(PASSING).run(&[]).code, 0);
    let fifo = env.path("fifo.tar.gz");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    for image in ["/dev/zero", fifo.to_str().unwrap()] {
        for file in ["report/report.json", "deployment.json"] {
            env.edit(file, |d| d["candidate"]["image"] = json!(image));
        }
        let started = std::time::Instant::now();
        let out = promote(&env, "report/report.json", &[]);
        refused(&env, &out, "not a regular file");
        assert!(started.elapsed().as_secs() < 30, "it read the device");
    }
    // The report and the deployment name different image files.
    env.edit("report/report.json", |d| {
        d["candidate"]["image"] = json!(env.image)
    });
    let out = promote(&env, "report/report.json", &[]);
    refused(&env, &out, "the report names the image");
}

#[test]
fn each_channel_is_a_folder_whose_head_comes_from_its_log() {
    let env = Env::new(36, &[("monctl", &["monctl"])]);
    assert_eq!(env.suite(PASSING).run(&[]).code, 0);
    for bad in ["../x", "Stable", ".hidden", "a/b", ""] {
        let out = promote(&env, "report/report.json", &["--channel", bad]);
        assert_eq!(out.code, 2, "{bad}: {}", out.stderr);
        assert!(out.stderr.contains("lower-case letters"), "{}", out.stderr);
    }
    assert_eq!(promote(&env, "report/report.json", &[]).code, 0);
    let log = std::fs::read_to_string(env.path("promotions/stable/log.jsonl")).unwrap();
    // A channel whose name ends like stable's files is its own folder: stable's log is untouched.
    for name in ["stable.log", "stable.lock"] {
        let out = promote(&env, "report/report.json", &["--channel", name]);
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    assert_eq!(
        std::fs::read_to_string(env.path("promotions/stable/log.jsonl")).unwrap(),
        log
    );
    // A head file that says something else is rewritten from the log.
    std::fs::write(env.path("promotions/stable/head"), "../../etc/passwd\n").unwrap();
    let out = env.aqf(&["channel", "stable"]);
    assert_eq!(out.stdout.trim(), env.digest, "{}", out.stderr);
    let head = std::fs::read_to_string(env.path("promotions/stable/head")).unwrap();
    assert_eq!(head.trim(), env.digest);
    // A log line that is not an entry is an error naming the file and line.
    let path = env.path("promotions/stable/log.jsonl");
    std::fs::write(&path, format!("{log}{{\"schema\":\"x\"}}\n")).unwrap();
    let out = env.aqf(&["channel", "stable"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("stable/log.jsonl:2"), "{}", out.stderr);
}

#[test]
#[cfg_attr(not(feature = "fault"), ignore = "needs aqf-run built with --features fault")]
fn a_kill_at_any_step_leaves_the_log_and_head_consistent() {
    let env = Env::new(37, &[("monctl", &["monctl"])]);
    assert_eq!(env.suite(PASSING).run(&[]).code, 0);
    for (step, promoted) in [
        ("verified", false),
        ("attested", false),
        ("logged", true),
        ("moved", true),
    ] {
        std::fs::remove_dir_all(env.path("promotions")).ok();
        let killed = env.aqf_env(
            &["promote", "report/report.json", "--deployment", "deployment.json"],
            &[("LASTMILE_FAULT", step)],
        );
        assert_eq!(killed.code, -1, "{step}: not killed: {}", killed.stderr);
        let shown = env.aqf(&["channel", "stable"]);
        if promoted {
            assert_eq!(
                (shown.code, shown.stdout.trim()),
                (0, env.digest.as_str()),
                "{step}"
            );
            let head = std::fs::read_to_string(env.path("promotions/stable/head")).unwrap();
            assert_eq!(head.trim(), env.digest, "{step}: head not repaired");
        } else {
            assert_eq!(shown.code, 1, "{step}: {}", shown.stdout);
            assert!(shown.stderr.contains("nothing promoted yet"), "{}", shown.stderr);
        }
        // The next promotion goes through either way, and leaves one entry.
        assert_eq!(promote(&env, "report/report.json", &[]).code, 0, "{step}");
        let log = std::fs::read_to_string(env.path("promotions/stable/log.jsonl")).unwrap();
        assert_eq!(log.lines().count(), 1, "{step}: {log}");
    }
    // A line cut short by a crash is not a promotion, and is cut off before the next.
    let path = env.path("promotions/stable/log.jsonl");
    let log = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{log}{{\"schema\":\"lastmile.promo")).unwrap();
    let out = env.aqf(&["channel", "stable", "--log"]);
    assert_eq!(out.stdout.lines().count(), 1, "{}", out.stdout);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), log);
}

#[test]
fn promotions_at_once_are_serialized_and_none_is_lost() {
    let a = Env::with_commit(38, &[("monctl", &["monctl"])], "aaaaaaa");
    let b = Env::with_commit(39, &[("monctl", &["monctl"])], "bbbbbbb");
    assert_ne!(a.digest, b.digest);
    assert_eq!(a.suite(PASSING).run(&[]).code, 0);
    assert_eq!(b.suite(PASSING).run(&[]).code, 0);
    // One promotions folder, two candidates promoted to it at the same moment.
    let promotions = a.path("promotions");
    let spawn = |env: &Env| {
        let shown = promotions.to_str().unwrap().to_owned();
        let args = [
            "promote",
            "report/report.json",
            "--deployment",
            "deployment.json",
            "--promotions",
            &shown,
        ];
        env.aqf(&args)
    };
    let (first, second) = std::thread::scope(|scope| {
        let one = scope.spawn(|| spawn(&a));
        let two = scope.spawn(|| spawn(&b));
        (one.join().unwrap(), two.join().unwrap())
    });
    assert_eq!(
        (first.code, second.code),
        (0, 0),
        "{}\n{}",
        first.stderr,
        second.stderr
    );
    let log = std::fs::read_to_string(promotions.join("stable/log.jsonl")).unwrap();
    let entries: Vec<serde_json::Value> = log.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(entries.len(), 2, "{log}");
    // The second saw the first: each promotion's previous head is the one before it.
    assert!(entries[0]["previous"].is_null(), "{log}");
    assert_eq!(entries[1]["previous"], entries[0]["digest"], "{log}");
    let head = a.aqf(&["channel", "stable", "--promotions", promotions.to_str().unwrap()]);
    assert_eq!(head.stdout.trim(), entries[1]["digest"].as_str().unwrap());
}

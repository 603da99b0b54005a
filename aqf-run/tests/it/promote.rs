//! Promotion: a passed report of the whole suite moves the channel (log, pointer, verification
//! summary naming the image's provenance); every other report is refused with the reason.

use lastmile_tests::Output;
use serde_json::json;

use crate::testenv::Env;

pub(crate) const PASSING: &str = r#"
    name = "p"
    [groups.host]
    [[groups.host.tests]]
    name = "a"
    kind = "command"
    on = "host"
    run = "true"
    [[groups.host.tests]]
    name = "b"
    kind = "command"
    on = "host"
    run = "true"
"#;

pub(crate) fn promote(env: &Env, report: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "promote",
        report,
        "--promotions",
        "promotions",
        "--deployment",
        "deployment.json",
    ];
    args.extend_from_slice(extra);
    env.aqf(&args)
}

/// A provenance beside the env's image saying it is about `digest`.
fn provenance(env: &Env, digest: &str) {
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "image", "digest": {"sha256": digest}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {},
    });
    let path = env
        .image
        .with_file_name(format!("autobuild-{}.provenance.json", &env.digest[..12]));
    std::fs::write(path, statement.to_string()).unwrap();
}

#[test]
fn a_passed_report_moves_the_channel_and_says_what_was_verified() {
    let env = Env::new(20, &[("monctl", &["monctl"])]);
    assert_eq!(env.suite(PASSING).run(&[]).code, 0);
    provenance(&env, &env.digest);
    let out = promote(&env, "report/report.json", &["--expect-current", "none"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let entry: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    lastmile_tests::schema::assert_valid(&entry, "promotion.v2");
    assert_eq!(entry["digest"], env.digest.as_str());
    assert_eq!(entry["moved"], json!(["candidate"]));
    assert_eq!(entry["qualified"][0]["environment"], "lab");
    // The report that qualified it is kept, under the sha256 the log names.
    let kept = env.path(&format!(
        "promotions/stable/reports/{}.json",
        entry["qualified"][0]["report_sha256"].as_str().unwrap()
    ));
    assert_eq!(
        std::fs::read(kept).unwrap(),
        std::fs::read(env.path("report/report.json")).unwrap()
    );
    let head = std::fs::read_to_string(env.path("promotions/stable/head")).unwrap();
    assert_eq!(head.trim(), env.digest);
    let shown = env.aqf(&["channel", "stable"]);
    assert_eq!(
        (shown.code, shown.stdout.trim()),
        (0, env.digest.as_str()),
        "{}",
        shown.stderr
    );
    let log = std::fs::read_to_string(env.path("promotions/stable/log.jsonl")).unwrap();
    let logged: serde_json::Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    assert_eq!(logged, entry);
    let vsa_path = env.path(&format!(
        "promotions/stable/attestations/autobuild-{}.vsa.json",
        &env.digest[..12]
    ));
    let vsa: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(vsa_path).unwrap()).unwrap();
    assert_eq!(vsa["predicateType"], "https://slsa.dev/verification_summary/v1");
    assert_eq!(vsa["subject"][0]["digest"]["sha256"], env.digest.as_str());
    assert_eq!(vsa["predicate"]["verifiedLevels"], json!(["SLSA_BUILD_LEVEL_1"]));
    let inputs = vsa["predicate"]["inputAttestations"].to_string();
    assert!(
        inputs.contains("provenance.json") && inputs.contains("qualification-report"),
        "{inputs}"
    );
    // The channel moved: expecting it empty is refused now; expecting its head is not.
    let moved = promote(&env, "report/report.json", &["--expect-current", "none"]);
    assert_eq!(moved.code, 1);
    assert!(
        moved.stderr.contains("it moved since you looked"),
        "{}",
        moved.stderr
    );
    let again = promote(
        &env,
        "report/report.json",
        &["--expect-current", &env.digest[..12]],
    );
    assert_eq!(again.code, 0, "{}", again.stderr);
    // Already the head: nothing is appended.
    let log = std::fs::read_to_string(env.path("promotions/stable/log.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 1, "{log}");
}

#[test]
fn every_other_report_is_refused_with_the_reason() {
    let env = Env::new(21, &[("monctl", &["monctl"])]);
    let refused = |out: Output, reason: &str| {
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert!(out.stderr.contains(reason), "{reason:?} not in: {}", out.stderr);
        assert!(
            !env.path("promotions/stable/log.jsonl").exists(),
            "the channel moved"
        );
    };
    // A failed report.
    env.suite(&PASSING.replace("run = \"true\"\n    [[", "run = \"false\"\n    [["));
    assert_eq!(env.run(&[]).code, 1);
    refused(
        promote(&env, "report/report.json", &[]),
        "report.json: the report did not pass (1 required tests did not: p:host/a)",
    );
    // One partition of the suite.
    env.suite(PASSING);
    assert_eq!(env.run(&["--partition", "1/1"]).code, 0);
    refused(
        promote(&env, "report/report.json", &[]),
        "it is partition 1/1 of the suite",
    );
    // A deployment that runs another digest.
    assert_eq!(env.run(&[]).code, 0);
    let mut other: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(env.path("deployment.json")).unwrap()).unwrap();
    other["candidate"]["digest"] = json!(lastmile_fs::Sha256::of(b"other").to_string());
    std::fs::write(env.path("other.json"), other.to_string()).unwrap();
    refused(
        env.aqf(&["promote", "report/report.json", "--deployment", "other.json"]),
        "but other.json runs",
    );
    // A provenance of another image.
    provenance(&env, &lastmile_fs::Sha256::of(b"other").to_string());
    refused(
        promote(&env, "report/report.json", &[]),
        "is a provenance of another image",
    );
    // The image changed after it was qualified.
    std::fs::remove_file(env.path(&format!("images/autobuild-{}.provenance.json", &env.digest[..12])))
        .unwrap();
    std::fs::write(
        env.path(&format!("images/autobuild-{}.tar.gz", &env.digest[..12])),
        b"tampered",
    )
    .unwrap();
    refused(
        promote(&env, "report/report.json", &[]),
        "changed after it was qualified",
    );
}

#[test]
fn a_change_of_configuration_alone_is_promoted_and_the_log_says_what_moved() {
    use crate::testenv::Layout;
    let mut env = Env::new(22, &[("monctl", &["monctl"])]);
    let digest = env.digest.clone();
    let first = Layout {
        configuration: Some("info"),
        level: "info",
        ..Layout::default()
    };
    env.deploy_as(&[("monctl", &["monctl"])], &digest, 3, &first);
    env.suite(PASSING);
    assert_eq!(env.run(&[]).code, 0);
    let report = env.report();
    assert_eq!(report["configuration"]["config"]["KATCP_LOG_LEVEL"], "info");
    let out = promote(&env, "report/report.json", &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("moved: candidate"), "{}", out.stderr);

    // The same candidate, another [config] value and another node: generation 4.
    let second = Layout {
        configuration: Some("debug"),
        ..Layout::default()
    };
    env.deploy_as(&[("monctl", &["monctl"]), ("sim", &["sim"])], &digest, 4, &second);
    let run = env.run(&["--compare", "stable", "--promotions", "promotions"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let changes = &env.report()["changes"];
    assert_eq!(changes["head"], digest.as_str());
    assert_eq!(changes["packages"], json!([]));
    assert_eq!(
        changes["configuration"],
        json!([
            {"name": "config.KATCP_LOG_LEVEL", "from": "info", "to": "debug"},
            {"name": "nodes.sim.roles", "from": null, "to": "sim"}
        ])
    );
    let markdown = std::fs::read_to_string(env.path("report/report.md")).unwrap();
    assert!(
        markdown
            .contains("| configuration | config.KATCP_LOG_LEVEL info -> debug<br>+ nodes.sim.roles sim |"),
        "{markdown}"
    );
    // The first report, on the deployment that runs the second configuration: refused.
    std::fs::copy(env.path("report/report.json"), env.path("second.json")).unwrap();
    let out = promote(&env, "second.json", &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let entry: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(entry["moved"], json!(["configuration"]));
    assert_eq!(entry["previous"], digest.as_str());
    assert!(
        out.stderr.contains("moved: configuration")
            && out
                .stderr
                .contains("configuration: config.KATCP_LOG_LEVEL info -> debug, + nodes.sim.roles sim"),
        "{}",
        out.stderr
    );
    let log = env.aqf(&["channel", "stable", "--log", "--promotions", "promotions"]);
    assert_eq!(log.stdout.lines().count(), 2, "{}", log.stdout);
    // Again: nothing moved, nothing appended.
    let again = promote(&env, "second.json", &[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stderr.contains("nothing moved"), "{}", again.stderr);
    let log = std::fs::read_to_string(env.path("promotions/stable/log.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 2);
}

#[test]
fn a_report_qualified_with_another_configuration_than_the_deployment_runs_is_refused() {
    use crate::testenv::Layout;
    let mut env = Env::new(23, &[("monctl", &["monctl"])]);
    let digest = env.digest.clone();
    let layout = |configuration| Layout {
        configuration: Some(configuration),
        ..Layout::default()
    };
    env.deploy_as(&[("monctl", &["monctl"])], &digest, 3, &layout("one"));
    assert_eq!(env.suite(PASSING).run(&[]).code, 0);
    // Redeployed with another configuration under the same generation number (a hand edit).
    env.deploy_as(&[("monctl", &["monctl"])], &digest, 3, &layout("two"));
    let out = promote(&env, "report/report.json", &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("the report qualified it with configuration")
            && out.stderr.contains("a promotion is of the pair qualified"),
        "{}",
        out.stderr
    );
}

/// A candidate deployed to `lab` (deployment.json) and `staging` (staging.json) and qualified on
/// each (lab/, st/).
fn qualified_on_lab_and_staging() -> (Env, String) {
    use crate::testenv::Layout;
    let mut env = Env::new(24, &[("monctl", &["monctl"])]);
    let digest = env.digest.clone();
    let lab = Layout {
        configuration: Some("lab"),
        ..Layout::default()
    };
    let staging = Layout {
        environment: "staging",
        configuration: Some("staging"),
        file: "staging.json",
        ..Layout::default()
    };
    env.deploy_as(&[("monctl", &["monctl"])], &digest, 3, &lab);
    env.deploy_as(
        &[("monctl", &["monctl", "sim"]), ("sim2", &["sim"])],
        &digest,
        1,
        &staging,
    );
    env.suite(PASSING);
    let lab_run = env.aqf(&[
        "run",
        "--deployment",
        "deployment.json",
        "suite.toml",
        "--out-dir",
        "lab",
        "--no-progress",
    ]);
    assert_eq!(lab_run.code, 0, "{}", lab_run.stderr);
    let staging_run = env.aqf(&[
        "run",
        "--deployment",
        "staging.json",
        "suite.toml",
        "--out-dir",
        "st",
        "--no-progress",
    ]);
    assert_eq!(staging_run.code, 0, "{}", staging_run.stderr);
    (env, digest)
}

#[test]
fn a_candidate_qualified_on_two_environments_is_promoted_with_both_or_not_at_all() {
    let (env, digest) = qualified_on_lab_and_staging();
    // A report without its deployment, or a deployment without its report: refused.
    let out = env.aqf(&[
        "promote",
        "lab/report.json",
        "st/report.json",
        "--promotions",
        "promotions",
        "--deployment",
        "deployment.json",
    ]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("st/report.json is about environment staging, and no --deployment is"),
        "{}",
        out.stderr
    );
    let out = env.aqf(&[
        "promote",
        "lab/report.json",
        "--promotions",
        "promotions",
        "--deployment",
        "deployment.json",
        "--deployment",
        "staging.json",
    ]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains(
            "staging.json is a deployment of staging, on which no report given qualified the candidate"
        ),
        "{}",
        out.stderr
    );
    let out = env.aqf(&[
        "promote",
        "st/report.json",
        "lab/report.json",
        "--promotions",
        "promotions",
        "--deployment",
        "staging.json",
        "--deployment",
        "deployment.json",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let entry: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    lastmile_tests::schema::assert_valid(&entry, "promotion.v2");
    let environments: Vec<&str> = entry["qualified"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["environment"].as_str().unwrap())
        .collect();
    assert_eq!(environments, ["lab", "staging"]);
    let vsa = std::fs::read_to_string(env.path(&format!(
        "promotions/stable/attestations/autobuild-{}.vsa.json",
        &digest[..12]
    )))
    .unwrap();
    assert_eq!(vsa.matches("qualification-report").count(), 2, "{vsa}");
}

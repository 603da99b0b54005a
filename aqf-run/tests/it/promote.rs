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
    lastmile_tests::schema::assert_valid(&entry, "promotion.v1");
    assert_eq!(entry["digest"], env.digest.as_str());
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

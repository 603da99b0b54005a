//! aqf-run against the example system deployed by deploy-lxc on real LXC containers: the
//! example's acceptance suite passes (JUnit XML valid against Jenkins' schema, the report valid
//! against its JSON Schema, the HTML page read in Chromium), then a suite of pass, fail,
//! flaky-then-pass and timed-out tests (whose children must be gone), partitions that together run
//! every test once, and promotion accepted or refused for each reason. Needs root.

use std::path::{Path, PathBuf};
use std::process::Command;

use lastmile_tests::{Output, run_command, tool, workspace};

use lastmile_tests::lab::{Lab, candidates, json};

mod affected;
mod configuration;

pub(crate) fn aqf(args: &[&str], dir: &Path) -> Output {
    run_command(Command::new(tool("aqf-run")).args(args).current_dir(dir), None)
}

fn deployed(lab: &Lab, dir: &Path) -> PathBuf {
    let out = lab.apply(&candidates().good);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let path = dir.join("deployment.json");
    std::fs::write(&path, &out.stdout).unwrap();
    path
}

fn xmllint(junit: &Path) {
    let schema = workspace().join("tests/junit/junit-10.xsd");
    let out = run_command(
        Command::new("xmllint")
            .arg("--noout")
            .arg("--schema")
            .arg(&schema)
            .arg(junit),
        None,
    );
    assert_eq!(
        out.code,
        0,
        "{} is not valid JUnit XML: {}",
        junit.display(),
        out.stderr
    );
}

#[test]
fn the_example_suite_qualifies_the_example_candidate() {
    let lab = Lab::new("qualify", 15, "timeout = \"60s\"");
    let dir = tempfile::tempdir().unwrap();
    let deployment = deployed(&lab, dir.path());
    let suite = workspace().join("examples/cam/acceptance.toml");
    let out_dir = dir.path().join("report");
    let cache = workspace().join("target/lastmile/cache");
    let out = aqf(
        &[
            "run",
            "--deployment",
            deployment.to_str().unwrap(),
            suite.to_str().unwrap(),
            "--out-dir",
            out_dir.to_str().unwrap(),
            "--cache-dir",
            cache.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stderr, out.stdout);
    let report = json(&out);
    lastmile_tests::schema::assert_valid(&report, "report.v1");
    assert_eq!(report["passed"], true);
    let kit_digest = lastmile_tests::lab::digest(&candidates().good);
    assert_eq!(report["candidate"]["digest"], kit_digest);
    // Every requirement of the suite is verified, and the end-to-end pytest cases ran.
    for requirement in report["requirements"].as_array().unwrap() {
        assert_eq!(requirement["status"], "verified", "{requirement}");
    }
    reports_for_jenkins_and_people(&out_dir, &kit_digest);

    // Promotion: accepted once, with its log, pointer and verification summary.
    let promoter = Promoter {
        dir: dir.path().to_owned(),
        promotions: dir.path().join("promotions"),
    };
    let report_path = out_dir.join("report.json");
    let accepted = promoter.promote(
        &[
            "--deployment",
            deployment.to_str().unwrap(),
            "--expect-current",
            "none",
        ],
        &report_path,
    );
    assert_eq!(accepted.code, 0, "{}", accepted.stderr);
    assert_eq!(
        std::fs::read_to_string(promoter.promotions.join("stable/head"))
            .unwrap()
            .trim(),
        kit_digest
    );
    the_promotion_attests_what_passed(&promoter.promotions, &kit_digest);
    promotions_refused(&promoter, &report_path, &deployment);
    concurrent_promotions_are_serialized(&promoter, &report_path, &deployment);
}

/// The JUnit XML Jenkins reads and the page a person opens (read by a real browser).
fn reports_for_jenkins_and_people(out_dir: &Path, kit_digest: &str) {
    let junit = out_dir.join("junit.xml");
    xmllint(&junit);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains(&format!("name=\"candidate.digest\" value=\"{kit_digest}\"")),
        "{xml}"
    );
    assert!(
        xml.contains("test_the_portal_shows_the_antenna_it_reaches_through_the_proxy"),
        "{xml}"
    );

    // The page a person opens: read by a real browser.
    let page = out_dir.join("report.html");
    let dom = lastmile_tests::chromium_dom(&page);
    assert!(
        dom.contains("id=\"verdict\">Candidate") && dom.contains("PASSED"),
        "{dom}"
    );
    assert!(dom.contains("CAM-R-103") && dom.contains("operator path across nodes"));
    screenshot(&page, &workspace().join("target/lastmile/tmp/report-passed.png"));
}

/// `aqf-run promote` into one promotions folder.
struct Promoter {
    dir: PathBuf,
    promotions: PathBuf,
}

impl Promoter {
    fn promote(&self, extra: &[&str], report: &Path) -> Output {
        let mut args = vec![
            "promote",
            report.to_str().unwrap(),
            "--promotions",
            self.promotions.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        aqf(&args, &self.dir)
    }
}

fn the_promotion_attests_what_passed(promotions: &Path, kit_digest: &str) {
    // The verification summary names what passed, and the provenance bake-image wrote beside
    // the image, which describes how it was built.
    let read_json = |path: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let vsa_path = std::fs::read_dir(promotions.join("stable/attestations"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let vsa = read_json(&vsa_path);
    assert_eq!(vsa["predicateType"], "https://slsa.dev/verification_summary/v1");
    assert_eq!(vsa["subject"][0]["digest"]["sha256"], kit_digest);
    assert_eq!(vsa["predicate"]["verificationResult"], "PASSED");
    let candidate = read_json(&candidates().good);
    let image = Path::new(candidate["image"]["path"].as_str().unwrap());
    let provenance_path = image.with_file_name(format!("autobuild-{}.provenance.json", &kit_digest[..12]));
    let inputs = vsa["predicate"]["inputAttestations"].as_array().unwrap();
    let provenance_sha = lastmile_fs::Sha256::of_file(&provenance_path)
        .unwrap()
        .to_string();
    assert!(
        inputs
            .iter()
            .any(|i| i["digest"]["sha256"] == provenance_sha.as_str()),
        "{inputs:?}"
    );
    let provenance = read_json(&provenance_path);
    assert_eq!(provenance["predicateType"], "https://slsa.dev/provenance/v1");
    assert_eq!(provenance["subject"][0]["digest"]["sha256"], kit_digest);
    let dependencies = provenance["predicate"]["buildDefinition"]["resolvedDependencies"].to_string();
    assert!(
        dependencies.contains("pkg:pypi/katcore@") && dependencies.contains("gitCommit"),
        "{dependencies}"
    );
}

/// Refused: a moved channel, another deployment's digest, an image changed after it was qualified.
fn promotions_refused(promoter: &Promoter, report_path: &Path, deployment: &Path) {
    let promote = |extra: &[&str], report: &Path| promoter.promote(extra, report);
    let dir = &promoter.dir;
    // Refused: the channel moved (expected none, it is at the digest now).
    let moved = promote(
        &[
            "--deployment",
            deployment.to_str().unwrap(),
            "--expect-current",
            "none",
        ],
        report_path,
    );
    assert_eq!(moved.code, 1, "{}", moved.stderr);
    assert!(moved.stderr.contains("it moved since"), "{}", moved.stderr);
    // Refused: the deployment runs another digest.
    let mut other: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(deployment).unwrap()).unwrap();
    other["candidate"]["digest"] =
        serde_json::Value::String(lastmile_tests::lab::digest(&candidates().second));
    let other_path = dir.join("other-deployment.json");
    std::fs::write(&other_path, other.to_string()).unwrap();
    let mismatch = promote(&["--deployment", other_path.to_str().unwrap()], report_path);
    assert_eq!(mismatch.code, 1, "{}", mismatch.stderr);
    assert!(mismatch.stderr.contains("runs "), "{}", mismatch.stderr);
    // Refused: the image changed on disk after qualification.
    let mut tampered_report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report_path).unwrap()).unwrap();
    let image = PathBuf::from(tampered_report["candidate"]["image"].as_str().unwrap());
    let image = if image.is_absolute() {
        image
    } else {
        workspace().join(image)
    };
    let mut bytes = std::fs::read(&image).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    let tampered_image = dir.join(image.file_name().unwrap());
    std::fs::write(&tampered_image, bytes).unwrap();
    let shown = serde_json::Value::String(tampered_image.display().to_string());
    tampered_report["candidate"]["image"] = shown.clone();
    let tampered_path = dir.join("tampered-report.json");
    std::fs::write(&tampered_path, tampered_report.to_string()).unwrap();
    let mut tampered_deployment: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(deployment).unwrap()).unwrap();
    tampered_deployment["candidate"]["image"] = shown;
    let tampered_deployment_path = dir.join("tampered-deployment.json");
    std::fs::write(&tampered_deployment_path, tampered_deployment.to_string()).unwrap();
    let tampered = promote(
        &["--deployment", tampered_deployment_path.to_str().unwrap()],
        &tampered_path,
    );
    assert_eq!(tampered.code, 1, "{}", tampered.stderr);
    assert!(
        tampered.stderr.contains("changed after it was qualified"),
        "{}",
        tampered.stderr
    );
}

fn concurrent_promotions_are_serialized(promoter: &Promoter, report_path: &Path, deployment: &Path) {
    let promotions = &promoter.promotions;
    // Two promotions of the head at once: serialized by the lock, neither appends (it is the head).
    let spawn = || {
        Command::new(tool("aqf-run"))
            .args([
                "promote",
                report_path.to_str().unwrap(),
                "--deployment",
                deployment.to_str().unwrap(),
                "--promotions",
                promotions.to_str().unwrap(),
                "-q",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let (mut a, mut b) = (spawn(), spawn());
    assert!(a.wait().unwrap().success() && b.wait().unwrap().success());
    let log = std::fs::read_to_string(promotions.join("stable/log.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 1, "{log}");
}

/// What only real nodes can show (the rest of running tests is in aqf-run's own tests, on nodes
/// that are this host): a host test sees the nodes' real addresses, a test killed at its time
/// limit inside a node takes what it started there with it, and partitions split the tests of
/// real nodes so that together they run each once.
#[test]
fn on_real_nodes_time_limits_reach_inside_and_partitions_cover_every_test() {
    let lab = Lab::new("outcomes", 16, "timeout = \"60s\"");
    let dir = tempfile::tempdir().unwrap();
    let deployment = deployed(&lab, dir.path());
    let suite = dir.path().join("outcomes.toml");
    std::fs::write(
        &suite,
        "name = \"outcomes\"\n\
         [groups.host]\n\
         [[groups.host.tests]]\nname = \"passes\"\nkind = \"command\"\non = \"host\"\nrun = \"echo $LASTMILE_ROLE_SIM\"\nstdout = \"127.77.16.3\"\n\
         [groups.sim]\nroles = [\"sim\"]\n\
         [[groups.sim.tests]]\nname = \"hangs in the node\"\nkind = \"command\"\ntimeout = \"1s\"\nrun = \"sleep 301 & sleep 302\"\n\
         [[groups.sim.tests]]\nname = \"the simulator listens\"\nkind = \"port\"\nport = 7149\n\
         [[groups.sim.tests]]\nname = \"optional failure\"\nkind = \"port\"\nport = 9\nrequired = false\n",
    )
    .unwrap();
    let run = |extra: &[&str], out: &str| {
        let out_dir = dir.path().join(out);
        let mut args = vec![
            "run",
            "--deployment",
            deployment.to_str().unwrap(),
            suite.to_str().unwrap(),
            "--out-dir",
        ];
        args.push(out_dir.to_str().unwrap());
        args.extend_from_slice(extra);
        (aqf(&args, dir.path()), out_dir)
    };
    let (out, out_dir) = run(&[], "all");
    assert_eq!(out.code, 1, "{}", out.stderr);
    let report = json(&out);
    lastmile_tests::schema::assert_valid(&report, "report.v1");
    let outcome = |name: &str| {
        report["tests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap()["outcome"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(outcome("passes"), "passed");
    assert_eq!(outcome("hangs in the node"), "timed-out");
    assert_eq!(outcome("the simulator listens"), "passed");
    assert_eq!(outcome("optional failure"), "failed");
    // What the timed-out test started inside the node is gone.
    let doc = json(&lab.run(&["status"], None, &[]));
    let left = lab.exec(
        &doc,
        "sim",
        &["sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '"],
    );
    assert!(
        !left.stdout.contains("sleep 30"),
        "the node test's sleeps survived: {}",
        left.stdout
    );
    xmllint(&out_dir.join("junit.xml"));

    // Three partitions run every test exactly once.
    let ids = |value: &serde_json::Value| -> Vec<String> {
        value["tests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let mut all = ids(&report);
    all.sort();
    let mut union = Vec::new();
    for k in 1..=3 {
        let (out, _) = run(&["--partition", &format!("{k}/3")], &format!("part{k}"));
        if out.code == 2 && out.stderr.contains("no test to run") {
            continue;
        }
        union.extend(ids(&json(&out)));
    }
    union.sort();
    assert_eq!(union, all);
}

/// A PNG of the page as Chromium draws it, to look at.
fn screenshot(page: &Path, png: &Path) {
    std::fs::create_dir_all(png.parent().unwrap()).unwrap();
    let profile = tempfile::tempdir().unwrap();
    let out = run_command(
        Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--window-size=1280,1600",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(format!("--screenshot={}", png.display()))
            .arg(format!("file://{}", page.display())),
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(std::fs::metadata(png).unwrap().len() > 10_000);
}

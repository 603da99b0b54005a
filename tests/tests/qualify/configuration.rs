//! A release of configuration alone, on real nodes: the same candidate with another `[config]`
//! value is a new generation, qualified (the report says what changed since the channel's head:
//! that value, and no package) and promoted, the log saying the configuration moved.

use std::path::{Path, PathBuf};

use lastmile_tests::Output;
use lastmile_tests::lab::{Lab, candidates, json};

use crate::aqf;

/// A lab, a one-test suite and a channel, in a folder.
struct Release {
    lab: Lab,
    dir: tempfile::TempDir,
    suite: PathBuf,
    promotions: PathBuf,
}

impl Release {
    fn new() -> Release {
        let lab = Lab::new("config", 18, "timeout = \"60s\"");
        let dir = tempfile::tempdir().unwrap();
        let suite = dir.path().join("suite.toml");
        std::fs::write(
            &suite,
            "name = \"config\"\n[groups.monctl]\nroles = [\"monctl\"]\n[[groups.monctl.tests]]\n\
             name = \"katproxy runs\"\nkind = \"service\"\nunit = \"katproxy\"\n",
        )
        .unwrap();
        let promotions = dir.path().join("promotions");
        Release {
            lab,
            dir,
            suite,
            promotions,
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn arg(path: &Path) -> &str {
        path.to_str().unwrap()
    }

    /// Apply the good candidate, qualify it comparing with the channel, promote it: the report
    /// and what promote said.
    fn qualify_and_promote(&self, name: &str) -> (serde_json::Value, Output) {
        let applied = self.lab.apply(&candidates().good);
        assert_eq!(applied.code, 0, "{}", applied.stderr);
        let deployment = self.path(&format!("{name}-deployment.json"));
        std::fs::write(&deployment, &applied.stdout).unwrap();
        let out_dir = self.path(name);
        let run = aqf(
            &[
                "run",
                "--deployment",
                Self::arg(&deployment),
                Self::arg(&self.suite),
                "--out-dir",
                Self::arg(&out_dir),
                "--compare",
                "stable",
                "--promotions",
                Self::arg(&self.promotions),
            ],
            self.dir.path(),
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        let report_path = out_dir.join("report.json");
        let promoted = aqf(
            &[
                "promote",
                Self::arg(&report_path),
                "--deployment",
                Self::arg(&deployment),
                "--promotions",
                Self::arg(&self.promotions),
            ],
            self.dir.path(),
        );
        assert_eq!(promoted.code, 0, "{}", promoted.stderr);
        (json(&run), promoted)
    }
}

#[test]
fn a_change_of_configuration_alone_is_qualified_and_promoted() {
    let release = Release::new();
    let (first, promoted) = release.qualify_and_promote("first");
    assert!(
        promoted.stderr.contains("moved: candidate"),
        "{}",
        promoted.stderr
    );
    let text = std::fs::read_to_string(&release.lab.env).unwrap();
    std::fs::write(
        &release.lab.env,
        text.replace("KATCP_LOG_LEVEL = \"debug\"", "KATCP_LOG_LEVEL = \"info\""),
    )
    .unwrap();
    let (second, promoted) = release.qualify_and_promote("second");
    assert_eq!(second["candidate"]["digest"], first["candidate"]["digest"]);
    assert_eq!(second["generation"], 2);
    assert_ne!(
        second["configuration"]["digest"],
        first["configuration"]["digest"]
    );
    assert_eq!(
        second["changes"]["configuration"],
        serde_json::json!([{"name": "config.KATCP_LOG_LEVEL", "from": "debug", "to": "info"}])
    );
    assert_eq!(second["changes"]["packages"], serde_json::json!([]));
    let junit = std::fs::read_to_string(release.path("second/junit.xml")).unwrap();
    assert!(
        junit.contains(&format!(
            "<property name=\"configuration.digest\" value=\"{}\"/>",
            second["configuration"]["digest"].as_str().unwrap()
        )),
        "{junit}"
    );
    let entry: serde_json::Value = serde_json::from_str(&promoted.stdout).unwrap();
    assert_eq!(entry["moved"], serde_json::json!(["configuration"]));
    assert_eq!(
        entry["qualified"][0]["configuration"],
        second["configuration"]["digest"]
    );
    assert!(
        promoted.stderr.contains("moved: configuration")
            && promoted
                .stderr
                .contains("configuration: config.KATCP_LOG_LEVEL debug -> info"),
        "{}",
        promoted.stderr
    );
    // What a person promoting it reads, as Chromium shows the page.
    let page = lastmile_tests::chromium_dom(&release.path("second/report.html"));
    assert!(
        page.contains("Changes since") && page.contains("config.KATCP_LOG_LEVEL debug -&gt; info"),
        "{page}"
    );
    let log = std::fs::read_to_string(release.promotions.join("stable/log.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 2, "{log}");
}

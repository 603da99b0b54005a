//! A deployment whose nodes are this host, a candidate image for it, and aqf-run run in a
//! temporary folder.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use lastmile_tests::Output;
use serde_json::json;

pub(crate) struct Env {
    pub(crate) env: lastmile_tests::TestEnv,
    /// The loopback block its nodes' addresses are in (`127.78.BLOCK.N`).
    pub(crate) block: u8,
    pub(crate) digest: String,
}

impl Env {
    /// A deployment of environment `lab`, generation 3, with `nodes` (name, roles), each node
    /// this host at `127.78.BLOCK.N` (N from 2).
    pub(crate) fn new(block: u8, nodes: &[(&str, &[&str])]) -> Env {
        let env = lastmile_tests::TestEnv::new(env!("CARGO_BIN_EXE_aqf-run"));
        let image_bytes = format!("an image for block {block}");
        let digest = lastmile_fs::Sha256::of(image_bytes.as_bytes()).to_string();
        let image = env.path(&format!("images/autobuild-{}.tar.gz", &digest[..12]));
        std::fs::create_dir_all(image.parent().unwrap()).unwrap();
        std::fs::write(&image, image_bytes).unwrap();
        let nodes: Vec<serde_json::Value> = nodes
            .iter()
            .enumerate()
            .map(|(i, (name, roles))| {
                json!({
                    "name": name, "container": format!("host-{name}"),
                    "address": Ipv4Addr::new(127, 78, block, 2 + i as u8).to_string(),
                    "roles": roles, "services": [], "state": "running",
                    "exec": ["env"], "health": [],
                })
            })
            .collect();
        let deployment = json!({
            "schema": "lastmile.deployment/v1", "environment": "lab", "backend": "lxc",
            "outcome": "deployed",
            "candidate": {"digest": digest, "image": image, "source_commits": {"cam": "1111111"}},
            "generation": 3, "nodes": nodes, "config": {"KATCP_LOG_LEVEL": "debug"},
            "kept": [], "timings_ms": {"total": 1},
        });
        lastmile_tests::schema::assert_valid(&deployment, "deployment.v1");
        std::fs::write(env.path("deployment.json"), deployment.to_string()).unwrap();
        Env { env, block, digest }
    }

    pub(crate) fn address(&self, n: u8) -> String {
        Ipv4Addr::new(127, 78, self.block, n).to_string()
    }

    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.env.path(rel)
    }

    /// Write the suite `suite.toml`.
    pub(crate) fn suite(&self, text: &str) -> &Self {
        self.env.write("suite.toml", text);
        self
    }

    /// `aqf-run run` of `suite.toml` against the deployment, reports in `report/`.
    pub(crate) fn run(&self, extra: &[&str]) -> Output {
        let mut args = vec![
            "run",
            "--deployment",
            "deployment.json",
            "suite.toml",
            "--out-dir",
            "report",
            "--no-progress",
        ];
        args.extend_from_slice(extra);
        self.env.run(&args)
    }

    /// The report of the last run, checked against its schema.
    pub(crate) fn report(&self) -> serde_json::Value {
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(self.path("report/report.json")).unwrap()).unwrap();
        lastmile_tests::schema::assert_valid(&report, "report.v1");
        report
    }

    /// The outcome of test `id` in the last report.
    pub(crate) fn outcome(&self, id: &str) -> String {
        let report = self.report();
        let test = report["tests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == id)
            .unwrap_or_else(|| panic!("no test {id} in {report}"));
        test["outcome"].as_str().unwrap().to_owned()
    }
}

/// A test's attempt messages, for failure messages.
pub(crate) fn messages(report: &serde_json::Value, id: &str) -> Vec<String> {
    report["tests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id)
        .map(|t| {
            t["attempts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["message"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Whether process `pid` runs (a zombie waiting to be reaped does not).
pub(crate) fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().to_owned())
        })
        .is_some_and(|rest| !rest.starts_with('Z'))
}

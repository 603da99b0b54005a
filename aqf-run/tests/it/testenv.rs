//! A deployment whose nodes are this host, a candidate image for it, and aqf-run run in a
//! temporary folder.
//!
//! The deployment is what deploy-lxc writes for the lxc backend: each node's exec is
//! `lxc-attach -P LXCPATH -n CONTAINER --clear-env --set-var PATH=... --`. The `lxc-attach` the
//! tests put first on aqf-run's PATH takes exactly that form and runs the command on this host,
//! with the node's own `/etc/lastmile` (its `node.env`) under `LXCPATH/CONTAINER/rootfs`: the
//! container runtime is stood in for, aqf-run is not. The image is a real `.tar.gz` holding the
//! candidate document, whose venv is this host's Python. (The same on real LXC containers is in
//! `tests/tests/qualify/`.)

use std::net::Ipv4Addr;
use std::path::PathBuf;

use lastmile_tests::Output;
use serde_json::json;

/// `lxc-attach` for nodes that are this host.
const LXC_ATTACH: &str = r#"#!/bin/sh
[ "$1" = -P ] || { echo "lxc-attach: expected -P" >&2; exit 90; }; lxcpath=$2; shift 2
[ "$1" = -n ] || { echo "lxc-attach: expected -n" >&2; exit 91; }; name=$2; shift 2
[ "$1" = --clear-env ] || exit 92; shift
[ "$1" = --set-var ] || exit 93; path=$2; shift 2
[ "$1" = -- ] || exit 94; shift
[ -d "$lxcpath/$name" ] || { echo "lxc-attach: $name is not running" >&2; exit 1; }
root=$lxcpath/$name/rootfs
for a; do shift; case $a in /etc/lastmile/*) a=$root$a;; esac; set -- "$@" "$a"; done
exec env -i "$path" "$@"
"#;

pub(crate) const PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Which environment a deployment is of, in which configuration, written where.
pub(crate) struct Layout<'a> {
    pub(crate) environment: &'a str,
    /// Its configuration digest is the sha256 of this text; `None`: a deployment that records none.
    pub(crate) configuration: Option<&'a str>,
    /// Its `[config]` KATCP_LOG_LEVEL.
    pub(crate) level: &'a str,
    pub(crate) file: &'a str,
}

impl Default for Layout<'_> {
    fn default() -> Self {
        Layout {
            environment: "lab",
            configuration: None,
            level: "debug",
            file: "deployment.json",
        }
    }
}

pub(crate) struct Env {
    pub(crate) env: lastmile_tests::TestEnv,
    /// The loopback block its nodes' addresses are in (`127.78.BLOCK.N`).
    pub(crate) block: u8,
    pub(crate) digest: String,
    pub(crate) image: PathBuf,
}

impl Env {
    /// A deployment of environment `lab`, generation 3, with `nodes` (name, roles), each node
    /// this host at `127.78.BLOCK.N` (N from 2).
    pub(crate) fn new(block: u8, nodes: &[(&str, &[&str])]) -> Env {
        Self::with_commit(block, nodes, "1111111")
    }

    /// The same with the image built from commit `commit` of `cam` (another commit, another
    /// digest).
    pub(crate) fn with_commit(block: u8, nodes: &[(&str, &[&str])], commit: &str) -> Env {
        let env = lastmile_tests::TestEnv::new(env!("CARGO_BIN_EXE_aqf-run"));
        let bin = env.path("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(bin.join("lxc-attach"), LXC_ATTACH).unwrap();
        std::fs::set_permissions(
            bin.join("lxc-attach"),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let (image, digest) = image(&env, &installed_pip(), commit);
        let mut env = Env {
            env,
            block,
            digest,
            image,
        };
        env.deploy(nodes, &env.digest.clone(), 3);
        env
    }

    /// Write `deployment.json` and each node's `node.env`, saying they run `digest`.
    pub(crate) fn deploy(&mut self, nodes: &[(&str, &[&str])], digest: &str, generation: u64) {
        self.deploy_as(nodes, digest, generation, &Layout::default());
    }

    /// The same for environment `layout.environment`, with its configuration, into
    /// `layout.file` (its nodes' containers named after the environment).
    pub(crate) fn deploy_as(
        &mut self,
        nodes: &[(&str, &[&str])],
        digest: &str,
        generation: u64,
        layout: &Layout,
    ) {
        let lxcpath = self.path("lxc");
        let environment = layout.environment;
        let documented: Vec<serde_json::Value> = nodes
            .iter()
            .enumerate()
            .map(|(i, (name, roles))| {
                let container = match environment {
                    "lab" => format!("lmtest-aqf-{name}-{generation}"),
                    other => format!("lmtest-aqf-{other}-{name}-{generation}"),
                };
                let exec = ["lxc-attach", lxcpath.to_str().unwrap(), &container];
                json!({
                    "name": name, "container": container,
                    "address": Ipv4Addr::new(127, 78, self.block, 2 + i as u8).to_string(),
                    "roles": roles, "services": [], "state": "running",
                    "exec": [exec[0], "-P", exec[1], "-n", exec[2], "--clear-env", "--set-var", PATH, "--"],
                    "health": [],
                })
            })
            .collect();
        let mut deployment = json!({
            "schema": "lastmile.deployment/v1", "environment": environment, "backend": "lxc",
            "outcome": "deployed",
            "candidate": {"digest": digest, "image": self.image, "source_commits": {"cam": "1111111"}},
            "generation": generation, "nodes": documented, "config": {"KATCP_LOG_LEVEL": layout.level},
            "kept": [], "timings_ms": {"total": 1},
        });
        let configuration = layout
            .configuration
            .map(|c| lastmile_fs::Sha256::of(c).to_string());
        if let Some(configuration) = &configuration {
            deployment["configuration"] = json!(configuration);
        }
        lastmile_tests::schema::assert_valid(&deployment, "deployment.v1");
        for (node, (name, _)) in documented.iter().zip(nodes) {
            let etc = lxcpath
                .join(node["container"].as_str().unwrap())
                .join("rootfs/etc/lastmile");
            std::fs::create_dir_all(&etc).unwrap();
            let mut text = format!(
                "LASTMILE_ENV=\"{environment}\"\nLASTMILE_NODE=\"{name}\"\nLASTMILE_GENERATION=\"{generation}\"\nLASTMILE_CANDIDATE=\"{digest}\"\n"
            );
            if let Some(configuration) = &configuration {
                text.push_str(&format!("LASTMILE_CONFIGURATION=\"{configuration}\"\n"));
            }
            std::fs::write(etc.join("node.env"), text).unwrap();
        }
        std::fs::write(self.path(layout.file), deployment.to_string()).unwrap();
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

    /// aqf-run with `args`, the stand-in `lxc-attach` first on its PATH.
    pub(crate) fn aqf(&self, args: &[&str]) -> Output {
        self.aqf_env(args, &[])
    }

    /// The same with `vars` in its environment.
    pub(crate) fn aqf_env(&self, args: &[&str], vars: &[(&str, &str)]) -> Output {
        let path = format!(
            "{}:{}",
            self.path("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut command = self.env.command(args);
        command.env("PATH", path).envs(vars.iter().copied());
        lastmile_tests::run_command(&mut command, None)
    }

    /// Edit the JSON file at `rel` with `change`.
    pub(crate) fn edit(&self, rel: &str, change: impl FnOnce(&mut serde_json::Value)) {
        let mut value: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(self.path(rel)).unwrap()).unwrap();
        change(&mut value);
        std::fs::write(self.path(rel), value.to_string()).unwrap();
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
        self.aqf(&args)
    }

    /// The report of the last run, checked against its schema.
    pub(crate) fn report(&self) -> serde_json::Value {
        self.report_at("report/report.json")
    }

    pub(crate) fn report_at(&self, rel: &str) -> serde_json::Value {
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(self.path(rel)).unwrap()).unwrap();
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

/// The version of pip this host's Python has.
pub(crate) fn installed_pip() -> String {
    let out = std::process::Command::new("python3")
        .args(["-c", "import importlib.metadata as m; print(m.version('pip'))"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// An image (a `.tar.gz`) holding the candidate document, whose venv is `env/venv` (this host's
/// Python) pinning `pip` at `pip_version`; its path and sha256.
fn image(env: &lastmile_tests::TestEnv, pip_version: &str, commit: &str) -> (PathBuf, String) {
    let venv = env.path("venv");
    std::fs::create_dir_all(venv.join("bin")).unwrap();
    let python = String::from_utf8(
        std::process::Command::new("sh")
            .args(["-c", "command -v python3"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    std::os::unix::fs::symlink(python.trim(), venv.join("bin/python")).unwrap();
    let sha = lastmile_fs::Sha256::of(b"pip").to_string();
    // The base's OS lock: dpkg at this host's version, apt at one no host has.
    let dpkg = std::process::Command::new("dpkg-query")
        .args(["-W", "-f", "${Version}", "dpkg"])
        .output()
        .unwrap();
    let dpkg = String::from_utf8(dpkg.stdout).unwrap();
    let deb = |name: &str, version: &str| json!({"name": name, "version": version, "architecture": "amd64", "sha256": sha, "roles": ["base"]});
    let manifest = json!({
        "schema": "lastmile.candidate/v1",
        "image": null,
        "base": {"digest": sha, "os": "debian 12 (bookworm)", "lock": {
            "sha256": sha, "built_with": {}, "packages": [deb("apt", "0.0.1"), deb("dpkg", &dpkg)],
        }},
        "target": {"python": "3.11", "platform": "x86_64-manylinux_2_36"},
        "prefix": venv,
        "packages": [{"name": "pip", "version": pip_version, "filename": "pip.whl", "sha256": sha, "scripts": [], "record_sha256": sha}],
        "services": {}, "source_commits": {"cam": commit}, "inputs": {}, "source_date_epoch": 0,
        "tool": "bake-image 0.1.0", "compression": "gzip",
    });
    let text = manifest.to_string();
    let staging = env.path("image.tar.gz");
    lastmile_tests::write_tar_gz(&staging, &[("etc/lastmile/candidate.json", &text)]);
    let digest = lastmile_fs::Sha256::of_file(&staging).unwrap().to_string();
    let image = env.path(&format!("images/autobuild-{}.tar.gz", &digest[..12]));
    std::fs::create_dir_all(image.parent().unwrap()).unwrap();
    std::fs::rename(&staging, &image).unwrap();
    (image, digest)
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

//! The kit of the deploy tests: the example candidates, baked once, and three-node environments
//! that remove every container they made.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use lastmile_tests::{Output, run_command, tool, workspace};

pub(crate) struct Candidates {
    pub(crate) good: PathBuf,
    pub(crate) second: PathBuf,
    pub(crate) broken: PathBuf,
}

/// The candidates, baked once per test run.
pub(crate) fn candidates() -> &'static Candidates {
    static CANDIDATES: OnceLock<Candidates> = OnceLock::new();
    CANDIDATES.get_or_init(|| {
        let root = workspace();
        let dir = root.join("target/lastmile/tmp/deploy-it");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let pinned = dir.join("pinned.txt");
        let (base, wheels) = lastmile_tests::pin_example_for_base(&pinned);
        let services = std::fs::read_to_string(root.join("examples/cam/services.toml")).unwrap();
        let broken_services = dir.join("broken-services.toml");
        // The simulator listens where its health check does not look.
        std::fs::write(&broken_services, services.replace("--port 7149", "--port 7199")).unwrap();
        let bake = |name: &str, services: &Path, commit: &str| {
            let out = run_command(
                Command::new(tool("bake-image"))
                    .arg(&pinned)
                    .args(["--base", &base, "-f", &wheels, "--offline", "--services"])
                    .arg(services)
                    .args(["--source-commit", &format!("cam={commit}"), "--out-dir"])
                    .arg(dir.join(name))
                    .current_dir(&root),
                None,
            );
            assert_eq!(out.code, 0, "baking {name}: {}", out.stderr);
            let document = dir.join(format!("{name}.json"));
            std::fs::write(&document, out.stdout).unwrap();
            document
        };
        let services = root.join("examples/cam/services.toml");
        Candidates {
            good: bake("good", &services, "1111111"),
            second: bake("second", &services, "2222222"),
            broken: bake("broken", &broken_services, "3333333"),
        }
    })
}

/// An environment of three nodes under its own state folder, destroyed when dropped.
pub(crate) struct Lab {
    pub(crate) state: tempfile::TempDir,
    pub(crate) env: PathBuf,
    pub(crate) block: u8,
}

impl Lab {
    pub(crate) fn new(name: &str, block: u8, health: &str) -> Lab {
        let state = tempfile::Builder::new()
            .prefix("lmtest-deploy-")
            .tempdir()
            .unwrap();
        let env = state.path().join(format!("{name}.toml"));
        let mut text = format!(
            "name = \"{name}\"\nbackend = \"lxc\"\nkeep = 1\n[lxc]\nprefix = \"lmtest-{}-\"\n\
             [config]\nKATCP_LOG_LEVEL = \"debug\"\n[health]\n{health}\n",
            std::process::id()
        );
        for (node, n, role) in [
            ("monctl", 2, "monctl"),
            ("sim", 3, "sim"),
            ("portal", 4, "portal"),
        ] {
            text.push_str(&format!(
                "[nodes.{node}]\nroles = [\"{role}\"]\naddress = \"127.77.{block}.{n}\"\nnetwork = \"none\"\nmemory = \"512M\"\ncpus = 1\n"
            ));
        }
        std::fs::write(&env, text).unwrap();
        Lab { state, env, block }
    }

    pub(crate) fn run(&self, args: &[&str], candidate: Option<&Path>, envs: &[(&str, &str)]) -> Output {
        let mut command = Command::new(tool("deploy-lxc"));
        command
            .args(args)
            .arg("--env")
            .arg(&self.env)
            .arg("--state-dir")
            .arg(self.state.path());
        if let Some(candidate) = candidate {
            command.arg(candidate);
        }
        for (key, value) in envs {
            command.env(key, value);
        }
        run_command(&mut command, None)
    }

    pub(crate) fn apply(&self, candidate: &Path) -> Output {
        self.run(&["apply"], Some(candidate), &[])
    }

    pub(crate) fn address(&self, n: u8) -> String {
        format!("127.77.{}.{n}", self.block)
    }

    pub(crate) fn lxcpath(&self) -> PathBuf {
        self.state.path().join("lxc")
    }

    /// The containers that exist, with their state.
    pub(crate) fn containers(&self) -> Vec<(String, String)> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(self.lxcpath()).into_iter().flatten() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            let info = run_command(
                Command::new("lxc-info")
                    .arg("-P")
                    .arg(self.lxcpath())
                    .args(["-n", &name, "-s", "-H"]),
                None,
            );
            found.push((name, info.stdout.trim().to_owned()));
        }
        found.sort();
        found
    }

    pub(crate) fn running(&self) -> Vec<String> {
        self.containers()
            .into_iter()
            .filter(|(_, s)| s == "RUNNING")
            .map(|(n, _)| n)
            .collect()
    }

    /// A command inside a node, through the exec prefix the deployment document gives.
    pub(crate) fn exec(&self, doc: &serde_json::Value, node: &str, command: &[&str]) -> Output {
        let node = doc["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["name"] == node)
            .unwrap();
        let prefix: Vec<&str> = node["exec"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        run_command(Command::new(prefix[0]).args(&prefix[1..]).args(command), None)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.run(&["destroy", "-q"], None, &[]);
        // Whatever destroy could not remove (a test that failed half-way) goes too.
        for (name, _) in self.containers() {
            let lxcpath = self.lxcpath();
            let _ = run_command(
                Command::new("lxc-stop")
                    .arg("-P")
                    .arg(&lxcpath)
                    .args(["-n", &name, "-k"]),
                None,
            );
            let _ = run_command(
                Command::new("lxc-destroy")
                    .arg("-P")
                    .arg(&lxcpath)
                    .args(["-n", &name, "-f"]),
                None,
            );
        }
    }
}

pub(crate) fn json(out: &Output) -> serde_json::Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr))
}

pub(crate) fn digest(candidate: &Path) -> String {
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(candidate).unwrap()).unwrap();
    doc["image"]["sha256"].as_str().unwrap().to_owned()
}

pub(crate) fn valid(doc: &serde_json::Value) {
    valid_as(doc, "deployment.v1");
}

/// `doc` is valid against `schemas/NAME.schema.json`.
pub(crate) fn valid_as(doc: &serde_json::Value, name: &str) {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(workspace().join(format!("schemas/{name}.schema.json"))).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
}

/// Something answers on `address:port`.
pub(crate) fn answers(address: &str, port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &format!("{address}:{port}").parse().unwrap(),
        std::time::Duration::from_secs(2),
    )
    .is_ok()
}

//! Real LXC labs for the tests that deploy (deploy-lxc's and aqf-run's): the example candidates,
//! baked once per test binary, and three-node environments under their own state folder that
//! remove every container they made, also when the test failed. Needs root.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::{Output, run_command, tool, workspace};

pub struct Candidates {
    pub good: PathBuf,
    pub second: PathBuf,
    pub broken: PathBuf,
}

/// The candidates, baked once per test run.
pub fn candidates() -> &'static Candidates {
    static CANDIDATES: OnceLock<Candidates> = OnceLock::new();
    CANDIDATES.get_or_init(|| {
        let root = workspace();
        let dir = root.join("target/lastmile/tmp/deploy-it");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let pinned = dir.join("pinned.txt");
        let (base, wheels) = crate::pin_example_for_base(&pinned);
        let services = std::fs::read_to_string(root.join("examples/cam/services.toml")).unwrap();
        let broken_services = dir.join("broken-services.toml");
        // The simulator listens where its health check does not look.
        std::fs::write(&broken_services, services.replace("--port 7149", "--port 7199")).unwrap();
        let bake = |name: &str, services: &Path, commit: &str| {
            let out = run_command(
                Command::new(tool("bake-image"))
                    .arg(&pinned)
                    .args(["--base", &base, "--os-lock", "examples/cam/os-lock.json"])
                    .args(["-f", &wheels, "--offline", "--services"])
                    .arg(services)
                    .args(["--source-commit", &format!("cam={commit}"), "--compile-bytecode"])
                    .arg("--out-dir")
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
pub struct Lab {
    pub state: tempfile::TempDir,
    pub env: PathBuf,
    pub block: u8,
}

impl Lab {
    pub fn new(name: &str, block: u8, health: &str) -> Lab {
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

    pub fn run(&self, args: &[&str], candidate: Option<&Path>, envs: &[(&str, &str)]) -> Output {
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

    pub fn apply(&self, candidate: &Path) -> Output {
        self.run(&["apply"], Some(candidate), &[])
    }

    pub fn address(&self, n: u8) -> String {
        format!("127.77.{}.{n}", self.block)
    }

    pub fn lxcpath(&self) -> PathBuf {
        self.state.path().join("lxc")
    }

    /// The containers that exist, with their state.
    pub fn containers(&self) -> Vec<(String, String)> {
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

    pub fn running(&self) -> Vec<String> {
        self.containers()
            .into_iter()
            .filter(|(_, s)| s == "RUNNING")
            .map(|(n, _)| n)
            .collect()
    }

    /// A command inside a node, through the exec prefix the deployment document gives.
    pub fn exec(&self, doc: &serde_json::Value, node: &str, command: &[&str]) -> Output {
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

pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr))
}

pub fn digest(candidate: &Path) -> String {
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(candidate).unwrap()).unwrap();
    doc["image"]["sha256"].as_str().unwrap().to_owned()
}

pub fn valid(doc: &serde_json::Value) {
    crate::schema::assert_valid(doc, "deployment.v1");
}

/// Something answers on `address:port`.
pub fn answers(address: &str, port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &format!("{address}:{port}").parse().unwrap(),
        std::time::Duration::from_secs(2),
    )
    .is_ok()
}

//! Two instances of one environment file, as two CI builds at once make them (each its own state
//! folder, as two Jenkins workspaces have): deployed and qualified at the same time on this host,
//! with no address, container or state shared; the same configuration digest (the addresses come
//! from the pool, and are not configuration); one destroyed leaves the other serving and gives
//! its addresses back. An instance of a file with fixed addresses is refused.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use lastmile_tests::lab::{candidates, json, valid};
use lastmile_tests::{Output, run_command, tool, workspace};

/// One instance: its own state folder, destroyed (and its containers removed) when dropped.
struct Instance {
    name: &'static str,
    env: PathBuf,
    pool: PathBuf,
    state: tempfile::TempDir,
}

impl Instance {
    fn deploy_lxc(&self, args: &[&str], candidate: Option<&Path>) -> Output {
        let mut command = Command::new(tool("deploy-lxc"));
        command
            .args(args)
            .arg("--env")
            .arg(&self.env)
            .args(["--instance", self.name, "--state-dir"])
            .arg(self.state.path())
            .env("LASTMILE_POOL_DIR", &self.pool);
        command.args(candidate);
        run_command(&mut command, None)
    }

    /// Deploy the example candidate and run the example's acceptance suite on it.
    fn qualify(&self) -> (serde_json::Value, Output) {
        let applied = self.deploy_lxc(&["apply"], Some(&candidates().good));
        assert_eq!(applied.code, 0, "{}: {}", self.name, applied.stderr);
        let deployment = self.state.path().join("deployment.json");
        std::fs::write(&deployment, &applied.stdout).unwrap();
        let qualified = run_command(
            Command::new(tool("aqf-run"))
                .args(["run", "--deployment"])
                .arg(&deployment)
                .arg(workspace().join("examples/cam/acceptance.toml"))
                .arg("--out-dir")
                .arg(self.state.path().join("aqf"))
                .arg("--cache-dir")
                .arg(workspace().join("target/lastmile/cache"))
                .arg("--no-progress"),
            None,
        );
        (json(&applied), qualified)
    }

    fn lxcpath(&self) -> PathBuf {
        self.state.path().join("lxc")
    }

    fn containers(&self) -> BTreeSet<String> {
        std::fs::read_dir(self.lxcpath())
            .into_iter()
            .flatten()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.deploy_lxc(&["destroy", "-q"], None);
        for name in self.containers() {
            for (tool, flag) in [("lxc-stop", "-k"), ("lxc-destroy", "-f")] {
                let _ = run_command(
                    Command::new(tool)
                        .arg("-P")
                        .arg(self.lxcpath())
                        .args(["-n", &name, flag]),
                    None,
                );
            }
        }
    }
}

fn addresses(doc: &serde_json::Value) -> BTreeSet<String> {
    doc["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["address"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn two_instances_are_qualified_at_once_sharing_nothing() {
    let dir = tempfile::Builder::new()
        .prefix("lmtest-instances-")
        .tempdir()
        .unwrap();
    let env = dir.path().join("lab.toml");
    let mut text = format!(
        "name = \"lab\"\nbackend = \"lxc\"\nkeep = 1\n[lxc]\nprefix = \"lmtest-{}-\"\n\
         [config]\nKATCP_LOG_LEVEL = \"debug\"\n[health]\ntimeout = \"90s\"\n\
         [pool]\naddresses = \"127.77.21.2-127.77.21.9\"\n",
        std::process::id()
    );
    for (node, role) in [("monctl", "monctl"), ("sim", "sim"), ("portal", "portal")] {
        text.push_str(&format!(
            "[nodes.{node}]\nroles = [\"{role}\"]\nnetwork = \"none\"\nmemory = \"512M\"\ncpus = 1\n"
        ));
    }
    std::fs::write(&env, text).unwrap();
    let pool = dir.path().join("pool");
    let instance = |name| Instance {
        name,
        env: env.clone(),
        pool: pool.clone(),
        state: tempfile::Builder::new()
            .prefix("lmtest-instance-")
            .tempdir()
            .unwrap(),
    };
    let (a, b) = (instance("build-41"), instance("build-42"));
    let (first, second) = std::thread::scope(|scope| {
        let first = scope.spawn(|| a.qualify());
        let second = scope.spawn(|| b.qualify());
        (first.join().unwrap(), second.join().unwrap())
    });
    for ((doc, qualified), instance) in [(&first, &a), (&second, &b)] {
        valid(doc);
        assert_eq!(doc["instance"], instance.name);
        assert_eq!(doc["environment"], "lab");
        assert_eq!(qualified.code, 0, "{}: {}", instance.name, qualified.stderr);
    }
    // Nothing shared: addresses, containers, state; the configuration is the same one.
    let (one, two) = (addresses(&first.0), addresses(&second.0));
    assert_eq!(one.len() + two.len(), 6);
    assert!(one.is_disjoint(&two), "{one:?} {two:?}");
    assert!(a.containers().is_disjoint(&b.containers()));
    assert_eq!(first.0["configuration"], second.0["configuration"]);
    let claims = std::fs::read_dir(&pool).unwrap().count();
    assert_eq!(claims, 6, "one claim per node");

    // One destroyed: the other still serves, and its addresses are free again.
    let destroyed = a.deploy_lxc(&["destroy"], None);
    assert_eq!(destroyed.code, 0, "{}", destroyed.stderr);
    assert!(a.containers().is_empty());
    assert_eq!(std::fs::read_dir(&pool).unwrap().count(), 3);
    let status = b.deploy_lxc(&["status"], None);
    assert_eq!(status.code, 0, "{}", status.stderr);

    // A file whose nodes have fixed addresses cannot be instantiated.
    let fixed = dir.path().join("fixed.toml");
    std::fs::write(
        &fixed,
        "name = \"lab\"\nbackend = \"lxc\"\n[nodes.monctl]\naddress = \"127.77.21.40\"\n",
    )
    .unwrap();
    let refused = run_command(
        Command::new(tool("deploy-lxc"))
            .args(["plan", "--env"])
            .arg(&fixed)
            .args(["--instance", "x", "--state-dir"])
            .arg(dir.path().join("none"))
            .arg(&candidates().good),
        None,
    );
    assert_eq!(refused.code, 2);
    assert!(
        refused
            .stderr
            .contains("--instance x: lab's nodes have fixed addresses"),
        "{}",
        refused.stderr
    );
}

/// The reference system's size: the example's fifteen-node environment (roles spread, two spares)
/// deploys, every node running its roles' services, and the example's acceptance suite passes on
/// it; the nodes' memory and the CPU their boot took are in the cgroups (scripts/bench-deploy
/// reports them).
#[test]
fn the_reference_size_of_fifteen_nodes_deploys_and_qualifies() {
    let dir = tempfile::Builder::new()
        .prefix("lmtest-reference-")
        .tempdir()
        .unwrap();
    let text = std::fs::read_to_string(workspace().join("examples/cam/reference.toml")).unwrap();
    let env = dir.path().join("reference.toml");
    std::fs::write(
        &env,
        format!(
            "{}\n[lxc]\nprefix = \"lmtest-{}-\"\n",
            text.replace("127.77.0.", "127.77.22."),
            std::process::id()
        ),
    )
    .unwrap();
    let reference = Instance {
        name: "ref",
        env,
        pool: dir.path().join("pool"),
        state: tempfile::Builder::new()
            .prefix("lmtest-instance-")
            .tempdir()
            .unwrap(),
    };
    let (doc, qualified) = reference.qualify();
    valid(&doc);
    assert_eq!(doc["nodes"].as_array().unwrap().len(), 15);
    assert!(
        doc["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["state"] == "running"),
        "{doc}"
    );
    assert_eq!(qualified.code, 0, "{}", qualified.stderr);
    let report = json(&qualified);
    assert_eq!(report["passed"], true);
    // Every receptor's simulator was checked, on its own node.
    let sims = report["tests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["name"] == "katsim runs")
        .count();
    assert_eq!(sims, 8, "{report}");
}

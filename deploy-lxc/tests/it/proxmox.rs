use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use lastmile_tests::{Output, run_command, tool};
use serde_json::json;

use crate::pve::{Cluster, SECRET, TOKEN, validate};

/// A candidate whose image is a small real one (its manifest inside, and `bytes` as a file to
/// tell candidates apart; the cluster checks its sha256, nothing more) and whose one service
/// answers on port 7301 of the nodes of role `app`.
fn candidate(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let mut doc = json!({
        "schema": "lastmile.candidate/v1",
        "base": {"digest": lastmile_fs::Sha256::of(b"base").to_string(), "os": "debian 12 (bookworm)"},
        "target": {"python": "3.11.2", "platform": "manylinux_2_36_x86_64"},
        "prefix": "/opt/lastmile/venv",
        "packages": [],
        "services": {"app": {"command": "/usr/bin/app", "roles": ["app"], "health": "tcp:7301"}},
        "source_commits": {"app": name},
        "inputs": {},
        "source_date_epoch": 0,
        "tool": "bake-image 0.1.0",
        "compression": "gzip"
    });
    let manifest = serde_json::to_vec_pretty(&doc).unwrap();
    let mut archive = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (path, contents) in [
        ("etc/lastmile/candidate.json", manifest.as_slice()),
        ("srv/app", bytes),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(contents.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        archive.append_data(&mut header, path, contents).unwrap();
    }
    let bytes = archive.into_inner().unwrap().finish().unwrap();
    let digest = lastmile_fs::Sha256::of(&bytes);
    let image = dir.join(format!("autobuild-{}.tar.gz", digest.short(12)));
    std::fs::write(&image, &bytes).unwrap();
    doc["image"] = json!({"path": image, "sha256": digest.to_string(), "size": bytes.len()});
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, doc.to_string()).unwrap();
    path
}

struct Setup {
    dir: tempfile::TempDir,
    env: PathBuf,
    cluster: Cluster,
}

fn setup(block: u8) -> Setup {
    let cluster = Cluster::start(&[7301]);
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join("cluster.toml");
    std::fs::write(
        &env,
        format!(
            "name = \"prod\"\nbackend = \"proxmox\"\nkeep = 1\n[health]\ntimeout = \"10s\"\n\
             [proxmox]\nurl = \"{}\"\ninsecure_http = true\ntoken = \"{TOKEN}\"\nhosts = [\"pve1\", \"pve2\"]\ntemplate_storage = \"local\"\n\
             [nodes.app-1]\nroles = [\"app\"]\naddress = \"127.77.{block}.2\"\nmemory = \"1G\"\ncpus = 2\n\
             network = {{ type = \"veth\", link = \"vmbr0\", ipv4 = \"127.77.{block}.2/24\", gateway = \"127.77.{block}.1\" }}\n\
             [nodes.app-2]\nroles = [\"app\"]\naddress = \"127.77.{block}.3\"\nhost = \"pve1\"\n\
             network = {{ type = \"veth\", link = \"vmbr0\", ipv4 = \"127.77.{block}.3/24\" }}\n",
            cluster.url
        ),
    )
    .unwrap();
    Setup { dir, env, cluster }
}

impl Setup {
    fn run(&self, args: &[&str], candidate: Option<&Path>, secret: Option<&str>) -> Output {
        let mut command = Command::new(tool("deploy-lxc"));
        command
            .args(args)
            .arg("--env")
            .arg(&self.env)
            .arg("--state-dir")
            .arg(self.dir.path().join("state"))
            .env_remove("PROXMOX_TOKEN_SECRET");
        if let Some(secret) = secret {
            command.env("PROXMOX_TOKEN_SECRET", secret);
        }
        if let Some(candidate) = candidate {
            command.arg(candidate);
        }
        run_command(&mut command, None)
    }

    fn running(&self) -> BTreeMap<u64, (String, bool)> {
        let state = self.cluster.state.lock().unwrap();
        state
            .containers
            .iter()
            .map(|(v, c)| (*v, (c.node.clone(), c.running)))
            .collect()
    }
}

fn json_of(out: &Output) -> serde_json::Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr))
}

#[test]
fn the_vendored_api_definition_is_the_shared_one() {
    let shared = lastmile_tests::workspace().join("../shared/proxmox/pve-api-lxc.json");
    if shared.exists() {
        let vendored = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/proxmox-api/pve-api-lxc.json");
        assert_eq!(std::fs::read(shared).unwrap(), std::fs::read(vendored).unwrap());
    }
}

#[test]
fn the_validating_server_refuses_what_the_api_refuses() {
    let defs: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/proxmox-api/pve-api-lxc.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let create = &defs["endpoints"]["/nodes/{node}/lxc"]["POST"]["parameters"];
    let params = |extra: &[(&str, &str)]| {
        let mut p: BTreeMap<String, String> = [
            ("node", "pve1"),
            ("vmid", "10100"),
            ("ostemplate", "local:vztmpl/a.tar.gz"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        p.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        p
    };
    validate(
        create,
        &params(&[
            ("net0", "name=eth0,bridge=vmbr0,ip=10.0.0.2/24"),
            ("unprivileged", "1"),
        ]),
    )
    .unwrap();
    for (bad, why) in [
        (params(&[("bogus", "1")]), "unknown parameter"),
        (params(&[("unprivileged", "true")]), "0 or 1"),
        (params(&[("vmid", "42")]), "minimum"),
        (params(&[("ostype", "windows")]), "enum"),
        (params(&[("net0", "name=eth0,colour=red")]), "unknown key colour"),
        (params(&[("net0", "bridge=vmbr0")]), "missing name"),
        (params(&[("hostname", "not a name")]), "dns-name"),
    ] {
        let err = validate(create, &bad).unwrap_err();
        assert!(err.contains(why), "{err} (expected {why})");
    }
    let mut missing = params(&[]);
    missing.remove("ostemplate");
    assert!(
        validate(create, &missing)
            .unwrap_err()
            .contains("missing required parameter ostemplate")
    );
}

/// plan prints the exact calls apply will make.
fn plan_prints_the_exact_calls(setup: &Setup, first: &Path) {
    let plan = setup.run(&["plan"], Some(first), Some(SECRET));
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    lastmile_tests::schema::assert_valid(&json_of(&plan), "deploy-plan.v1");
    let steps = json_of(&plan)["steps"].to_string();
    assert!(
        steps.contains("POST /api2/json/nodes/pve1/lxc vmid=10100"),
        "{steps}"
    );
    assert!(
        steps.contains("/nodes/pve1/storage/local/upload content=vztmpl"),
        "{steps}"
    );
    assert!(
        steps.contains("net0=name=eth0,bridge=vmbr0,ip=127.77.30.2/24,gw=127.77.30.1"),
        "{steps}"
    );
}

/// The template went to the node that holds containers, checked by its sha256; the containers
/// have their limits and their node's variables.
fn the_cluster_holds_what_was_asked(setup: &Setup) {
    let state = setup.cluster.state.lock().unwrap();
    assert_eq!(state.templates.len(), 1, "{:?}", state.templates.keys());
    let created = &state.containers[&10100].params;
    assert_eq!(created["memory"], "1024");
    assert_eq!(created["cores"], "2");
    let env = &created["env"];
    assert!(env.contains("LASTMILE_NODE=app-1\0"), "{env:?}");
    assert!(
        env.contains("LASTMILE_ROLE_APP=127.77.30.2 127.77.30.3\0"),
        "{env:?}"
    );
}

#[test]
fn deploys_switches_rolls_back_and_destroys_through_the_api() {
    let setup = setup(30);
    let first = candidate(setup.dir.path(), "first", b"image one");
    let second = candidate(setup.dir.path(), "second", b"image two");

    // No secret: said before any call.
    let out = setup.run(&["apply"], Some(&first), None);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("$PROXMOX_TOKEN_SECRET"), "{}", out.stderr);

    plan_prints_the_exact_calls(&setup, &first);
    let applied = setup.run(&["apply"], Some(&first), Some(SECRET));
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    let doc = json_of(&applied);
    assert_eq!(doc["outcome"], "deployed");
    assert_eq!(doc["backend"], "proxmox");
    let containers: Vec<&str> = doc["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["container"].as_str().unwrap())
        .collect();
    assert_eq!(containers, ["pve1/10100", "pve1/10101"]);
    assert_eq!(doc["nodes"][0]["exec"][0], "ssh");
    assert!(setup.running().values().all(|(_, running)| *running));
    the_cluster_holds_what_was_asked(&setup);
    let switched = setup.run(&["apply"], Some(&second), Some(SECRET));
    assert_eq!(switched.code, 0, "{}", switched.stderr);
    let doc = json_of(&switched);
    assert_eq!(doc["generation"], 2);
    let running: Vec<u64> = setup
        .running()
        .iter()
        .filter(|(_, (_, r))| *r)
        .map(|(v, _)| *v)
        .collect();
    assert_eq!(running, [10200, 10201]);

    let back = setup.run(&["rollback"], None, Some(SECRET));
    assert_eq!(back.code, 0, "{}", back.stderr);
    assert_eq!(json_of(&back)["generation"], 1);
    let running: Vec<u64> = setup
        .running()
        .iter()
        .filter(|(_, (_, r))| *r)
        .map(|(v, _)| *v)
        .collect();
    assert_eq!(running, [10100, 10101]);

    let status = setup.run(&["status"], None, Some(SECRET));
    assert_eq!(status.code, 0, "{}", status.stderr);

    let destroyed = setup.run(&["destroy"], None, Some(SECRET));
    assert_eq!(destroyed.code, 0, "{}", destroyed.stderr);
    assert!(setup.running().is_empty());
    assert!(setup.cluster.state.lock().unwrap().templates.is_empty());

    // Every call was one the real API accepts, and the secret never showed.
    assert_eq!(setup.cluster.violations(), Vec::<String>::new());
    for out in [&applied, &switched, &back, &status, &destroyed] {
        assert!(!out.stdout.contains(SECRET) && !out.stderr.contains(SECRET));
    }
    let calls = setup.cluster.state.lock().unwrap().calls.clone();
    assert!(
        calls.iter().any(|c| c.contains("/tasks/")),
        "tasks were never waited for: {calls:?}"
    );
}

#[test]
fn another_environments_containers_are_never_touched() {
    let setup = setup(32);
    let first = candidate(setup.dir.path(), "first", b"image one");
    let applied = setup.run(&["apply"], Some(&first), Some(SECRET));
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    let prod = setup.running();
    assert_eq!(prod.keys().copied().collect::<Vec<_>>(), [10100, 10101]);

    // A second environment on the same cluster with the same (default) vmid_base, from
    // another machine: its VMIDs are prod's. It is refused, naming the owner, and prod runs on.
    let lab_dir = tempfile::tempdir().unwrap();
    let lab_env = lab_dir.path().join("lab.toml");
    let text = std::fs::read_to_string(&setup.env).unwrap();
    std::fs::write(
        &lab_env,
        text.replace("name = \"prod\"", "name = \"lab\"")
            .replace("127.77.32.", "127.77.33."),
    )
    .unwrap();
    let lab = |args: &[&str], candidate: Option<&Path>| {
        let mut command = Command::new(tool("deploy-lxc"));
        command
            .args(args)
            .arg("--env")
            .arg(&lab_env)
            .arg("--state-dir")
            .arg(lab_dir.path().join("state"))
            .env("PROXMOX_TOKEN_SECRET", SECRET);
        if let Some(candidate) = candidate {
            command.arg(candidate);
        }
        run_command(&mut command, None)
    };
    let refused = lab(&["apply"], Some(&first));
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("VMID 10100 (for pve1) is taken by a lxc of environment prod")
            && refused
                .stderr
                .contains("not a container of environment lab from this state folder; left alone")
            && refused.stderr.contains("proxmox.vmid_base"),
        "{}",
        refused.stderr
    );
    assert_eq!(setup.running(), prod, "prod's containers were touched");
    assert!(prod.values().all(|(_, running)| *running));

    // Its destroy removes what it owns (nothing), not prod's.
    let destroyed = lab(&["destroy"], None);
    assert_eq!(destroyed.code, 0, "{}", destroyed.stderr);
    assert_eq!(setup.running(), prod);

    // With its own range it deploys beside prod.
    std::fs::write(
        &lab_env,
        std::fs::read_to_string(&lab_env)
            .unwrap()
            .replace("hosts = [", "vmid_base = 20000\nhosts = ["),
    )
    .unwrap();
    let applied = lab(&["apply"], Some(&first));
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    let all = setup.running();
    assert_eq!(
        all.keys().copied().collect::<Vec<_>>(),
        [10100, 10101, 20100, 20101]
    );
    let tags = setup.cluster.state.lock().unwrap().containers[&20100].params["tags"].clone();
    assert!(
        tags.starts_with("lastmile-lab;lastmile-gen-1;lastmile-owner-"),
        "{tags}"
    );
    assert_eq!(setup.cluster.violations(), Vec::<String>::new());
}

#[test]
fn the_same_environment_from_another_state_folder_never_touches_the_running_one() {
    let setup = setup(34);
    let first = candidate(setup.dir.path(), "first", b"image one");
    let applied = setup.run(&["apply"], Some(&first), Some(SECRET));
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    let prod = setup.running();
    // prod again, from a machine with a state folder of its own: the same names, the same VMIDs.
    let other = tempfile::tempdir().unwrap();
    let again = |args: &[&str], candidate: Option<&Path>| {
        let mut command = Command::new(tool("deploy-lxc"));
        command
            .args(args)
            .arg("--env")
            .arg(&setup.env)
            .arg("--state-dir")
            .arg(other.path())
            .env("PROXMOX_TOKEN_SECRET", SECRET);
        if let Some(candidate) = candidate {
            command.arg(candidate);
        }
        run_command(&mut command, None)
    };
    let refused = again(&["apply"], Some(&first));
    assert_ne!(refused.code, 0, "{}", refused.stderr);
    assert_eq!(
        setup.running(),
        prod,
        "the running environment's containers were touched"
    );
    assert!(prod.values().all(|(_, running)| *running));
    let destroyed = again(&["destroy"], None);
    assert_eq!(destroyed.code, 0, "{}", destroyed.stderr);
    assert_eq!(
        setup.running(),
        prod,
        "destroy from another state folder removed them"
    );
}

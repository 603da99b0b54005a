//! Inputs besides requirements files: project files with extras, graph documents; and the JSON
//! lock output.

use crate::testenv::{Pins, TestEnv, Wheel};

fn sources(env: &TestEnv) {
    env.wheel(Wheel::new("katcp", "0.9.4"))
        .wheel(Wheel::new("pyyaml", "6.0.3"))
        .wheel(Wheel::new("pytest", "8.0").requires("pluggy"))
        .wheel(Wheel::new("pluggy", "1.5"));
}

#[test]
fn pyproject_dependencies_and_extras() {
    let env = TestEnv::new();
    sources(&env);
    env.write(
        "proj/pyproject.toml",
        "[project]\nname = \"svc\"\nversion = \"1\"\ndependencies = [\"katcp>=0.9\"]\n\
         [project.optional-dependencies]\ntest = [\"pytest>=7\"]\nyaml = [\"pyyaml\"]\n",
    );
    let base = env
        .run(&["proj/pyproject.toml", "-f", "dist", "--no-header", "--no-hashes"])
        .success();
    assert_eq!(base.stdout, "katcp==0.9.4\n    # via svc (pyproject.toml)\n");
    let test = env
        .run(&[
            "proj/pyproject.toml",
            "-f",
            "dist",
            "--no-hashes",
            "--extra",
            "test",
        ])
        .success();
    assert_eq!(test.pins(), ["katcp==0.9.4", "pluggy==1.5", "pytest==8.0"]);
    let all = env
        .run(&["proj/pyproject.toml", "-f", "dist", "--no-hashes", "--all-extras"])
        .success();
    assert_eq!(
        all.pins(),
        ["katcp==0.9.4", "pluggy==1.5", "pytest==8.0", "pyyaml==6.0.3"]
    );
    let bad = env.run(&["proj/pyproject.toml", "-f", "dist", "--extra", "docs"]);
    assert_eq!(
        (bad.code, bad.stderr.as_str()),
        (
            2,
            "pin-deps: --extra docs: svc has no such extra (it has: test, yaml)\n"
        )
    );
}

#[test]
fn setup_cfg_and_setup_py_projects() {
    let env = TestEnv::new();
    sources(&env);
    env.write(
        "a/setup.cfg",
        "[metadata]\nname = a\n[options]\ninstall_requires =\n    katcp\n",
    )
    .write(
        "b/setup.py",
        "from setuptools import setup\nsetup(name='b', install_requires=['pyyaml'])\n",
    );
    let out = env
        .run(&[
            "a/setup.cfg",
            "b/setup.py",
            "-f",
            "dist",
            "--no-header",
            "--no-hashes",
        ])
        .success();
    assert_eq!(
        out.stdout,
        "katcp==0.9.4\n    # via a (setup.cfg)\npyyaml==6.0.3\n    # via b (setup.py)\n"
    );
}

#[test]
fn graph_leaves_or_named_packages() {
    let env = TestEnv::new();
    env.wheel(Wheel::new("leaf-a", "1.0").requires("mid"))
        .wheel(Wheel::new("leaf-b", "2.0"))
        .wheel(Wheel::new("mid", "1.0"));
    let node = |name: &str| {
        format!(
            r#"{{"name": "{name}", "version": null, "internal": true, "source": null, "requires_python": null, "extras": [], "scripts": {{}}}}"#
        )
    };
    let graph = format!(
        r#"{{"schema": "lastmile.graph/v1", "nodes": [{}, {}], "edges": [], "roots": [], "leaves": ["leaf-a", "leaf-b"],
        "build_order": [], "cycles": [], "duplicates": []}}"#,
        node("leaf-a"),
        node("leaf-b")
    );
    env.write("graph.json", &graph);
    let out = env
        .run(&[
            "--from-graph",
            "graph.json",
            "-f",
            "dist",
            "--no-hashes",
            "--no-header",
        ])
        .success();
    assert_eq!(out.pins(), ["leaf-a==1.0", "leaf-b==2.0", "mid==1.0"]);
    assert!(out.stdout.contains("leaf-b==2.0\n    # via -r graph.json\n"));
    let wrong = env.write("old.json", r#"{"schema": "lastmile.graph/v0"}"#).run(&[
        "--from-graph",
        "old.json",
        "-f",
        "dist",
    ]);
    assert_eq!(wrong.code, 2);
    assert_eq!(
        wrong.stderr,
        "pin-deps: old.json: this is a lastmile.graph/v0 document; expected lastmile.graph/v1\n"
    );
}

#[test]
fn json_lock_lists_every_file_and_matches_its_schema() {
    let env = TestEnv::new();
    env.wheel(Wheel::new("fast", "1.0").tag("cp311-cp311-manylinux_2_17_x86_64"))
        .wheel(Wheel::new("fast", "1.0").tag("cp312-cp312-manylinux_2_17_x86_64"))
        .wheel(Wheel::new("app", "1.0").requires("fast"));
    let out = env.pin("app\n", &["--format", "json"]).success();
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let schema_text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/lock.v1.schema.json"),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&serde_json::from_str(&schema_text).unwrap()).unwrap();
    let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(doc["packages"][0]["name"], "app");
    assert_eq!(doc["packages"][0]["dependencies"], serde_json::json!(["fast"]));
    let files = doc["packages"][1]["files"].as_array().unwrap();
    let installable: Vec<_> = files
        .iter()
        .map(|f| {
            (
                f["filename"].as_str().unwrap(),
                f["installable"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        installable,
        [
            ("fast-1.0-cp311-cp311-manylinux_2_17_x86_64.whl", true),
            ("fast-1.0-cp312-cp312-manylinux_2_17_x86_64.whl", false)
        ]
    );
    // The recorded hash is the file's.
    let path = env.path("dist/fast-1.0-cp311-cp311-manylinux_2_17_x86_64.whl");
    let digest = sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(
        std::fs::read(&path).unwrap(),
    ));
    assert_eq!(files[0]["sha256"], format!("{digest:x}"));
    assert!(files[0]["url"].as_str().unwrap().starts_with("file:///"));
}

#[test]
fn pylock_toml_per_pep_751() {
    let env = TestEnv::new();
    env.wheel(Wheel::new("app", "1.0").requires("base"))
        .wheel(Wheel::new("base", "2.0"))
        .sdist("base", "2.0", "2.2", &[]);
    let out = env.pin("app\n", &["--format", "pylock"]).success();
    env.write("pylock.toml", &out.stdout);
    // Read it back with Python's own TOML parser and check the PEP 751 shape and the hashes.
    let check = r#"
import hashlib, sys, tomllib, urllib.parse
doc = tomllib.load(open("pylock.toml", "rb"))
assert doc["lock-version"] == "1.0" and doc["created-by"] == "pin-deps", doc
names = [(p["name"], p["version"]) for p in doc["packages"]]
assert names == [("app", "1.0"), ("base", "2.0")], names
assert doc["packages"][0]["dependencies"] == [{"name": "base"}]
base = doc["packages"][1]
files = base["wheels"] + [base["sdist"]]
for f in files:
    data = open(urllib.parse.urlparse(f["url"]).path, "rb").read()
    assert hashlib.sha256(data).hexdigest() == f["hashes"]["sha256"] and len(data) == f["size"], f
print(len(files))
"#;
    let python = std::process::Command::new("python3")
        .arg("-c")
        .arg(check)
        .current_dir(env.dir.path())
        .output()
        .unwrap();
    assert!(
        python.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&python.stderr),
        out.stdout
    );
    assert_eq!(String::from_utf8_lossy(&python.stdout).trim(), "2");
}

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
    // Two sources (the folder and the default index): each pin says which it came from.
    assert_eq!(
        base.stdout,
        "katcp==0.9.4\n    # via svc (pyproject.toml)\n    # from dist\n"
    );
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
        "katcp==0.9.4\n    # via a (setup.cfg)\n    # from dist\npyyaml==6.0.3\n    # via b (setup.py)\n    # from dist\n"
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
    // Checked by the reference implementation of PEP 751 (packaging.pylock), then installed
    // by another installer that reads pylock.toml (uv), which checks every hash.
    let tools = lastmile_tests::script("test-tools");
    let tools = std::path::Path::new(&tools);
    let validate = |file: &str| {
        std::process::Command::new(tools.join("bin/python"))
            .arg("-c")
            .arg(
                "import sys, tomllib\nfrom packaging.pylock import Pylock\n\
                 lock = Pylock.from_dict(tomllib.load(open(sys.argv[1], 'rb')))\n\
                 print(' '.join(f'{p.name}=={p.version}' for p in lock.packages))",
            )
            .arg(file)
            .current_dir(env.dir.path())
            .output()
            .unwrap()
    };
    let valid = validate("pylock.toml");
    assert!(
        valid.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&valid.stderr),
        out.stdout
    );
    assert_eq!(
        String::from_utf8_lossy(&valid.stdout).trim(),
        "app==1.0 base==2.0"
    );
    // The validator is not a formality: a lock of another version is refused.
    env.write(
        "other.toml",
        &out.stdout
            .replace("lock-version = \"1.0\"", "lock-version = \"9.0\""),
    );
    assert!(!validate("other.toml").status.success());
    let uv = tools.join("bin/uv");
    let venv = env.path("venv");
    let run = |args: &[&str]| {
        let output = std::process::Command::new(&uv)
            .args(args)
            .current_dir(env.dir.path())
            .env("UV_CACHE_DIR", env.path(".uv-cache"))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "uv {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    run(&["venv", "-q", venv.to_str().unwrap()]);
    let python = venv.join("bin/python");
    let installed = run(&[
        "pip",
        "install",
        "--offline",
        "--python",
        python.to_str().unwrap(),
        "-r",
        "pylock.toml",
    ]);
    assert!(
        installed.contains("+ app==1.0") && installed.contains("+ base==2.0"),
        "{installed}"
    );
}

//! Source trees in every packaging style, built as small fixtures.

use crate::testenv::{TestEnv, python_venv};

fn edges(doc: &serde_json::Value) -> Vec<String> {
    doc["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let mut s = format!(
                "{} -> {}{}",
                e["from"].as_str().unwrap(),
                e["to"].as_str().unwrap(),
                e["specifier"].as_str().unwrap()
            );
            if let Some(extra) = e["extra"].as_str() {
                s.push_str(&format!(" [extra {extra}]"));
            }
            if let Some(marker) = e["marker"].as_str() {
                s.push_str(&format!(" ; {marker}"));
            }
            s.push_str(&format!(" @ {}", e["declared_at"].as_str().unwrap()));
            if e["kind"] == "build" {
                s.push_str(" (to build)");
            }
            s
        })
        .collect()
}

fn version(doc: &serde_json::Value, name: &str) -> serde_json::Value {
    doc["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == name)
        .unwrap()["version"]
        .clone()
}

#[test]
fn pep621_pyproject() {
    let env = TestEnv::new();
    env.write(
        "a/pyproject.toml",
        r#"
        [project]
        name = "Alpha_Pkg"
        version = "1.0"
        dependencies = [
            "beta >=2, <3",
            "gamma; sys_platform == 'linux'",
        ]
        [project.optional-dependencies]
        docs = ["sphinx>=7"]
        "#,
    );
    let doc = env.run(&["a"]).success().json();
    assert_eq!(
        edges(&doc),
        [
            "alpha-pkg -> beta>=2, <3 @ a/pyproject.toml:5",
            "alpha-pkg -> gamma ; sys_platform == 'linux' @ a/pyproject.toml:6",
            "alpha-pkg -> sphinx>=7 [extra docs] @ a/pyproject.toml:9",
        ]
    );
    assert_eq!(doc["nodes"][0]["extras"], serde_json::json!(["docs"]));
}

#[test]
fn setuptools_dynamic_files_and_version() {
    let env = TestEnv::new();
    env.write(
        "p/pyproject.toml",
        r#"
        [project]
        name = "p"
        dynamic = ["version", "dependencies", "optional-dependencies"]
        [tool.setuptools.dynamic]
        version = {file = "VERSION"}
        dependencies = {file = ["requirements.txt", "more.txt"]}
        optional-dependencies.test = {file = "test.txt"}
        "#,
    )
    .write("p/VERSION", "4.5.6\n")
    .write("p/requirements.txt", "# runtime\nq>=1\n")
    .write("p/more.txt", "r\n")
    .write("p/test.txt", "pytest\n");
    let doc = env.run(&["p"]).success().json();
    assert_eq!(version(&doc, "p"), "4.5.6");
    assert_eq!(
        edges(&doc),
        [
            "p -> pytest [extra test] @ p/test.txt:1",
            "p -> q>=1 @ p/requirements.txt:2",
            "p -> r @ p/more.txt:1"
        ]
    );
}

#[test]
fn setup_cfg_with_attr_version_in_a_src_layout() {
    let env = TestEnv::new();
    env.write(
        "c/pyproject.toml",
        "[build-system]\nrequires = [\"setuptools\"]\n",
    )
    .write(
        "c/setup.cfg",
        "
            [metadata]
            name = cfgpkg
            version = attr: cfgpkg.__version__

            [options]
            package_dir =
                =src
            install_requires =
                d>=1
                e ; python_version < \"3.10\"

            [options.extras_require]
            fast = f
            ",
    )
    .write("c/src/cfgpkg/__init__.py", "__version__ = '0.3.1'\n");
    let doc = env.run(&["c"]).success().json();
    assert_eq!(version(&doc, "cfgpkg"), "0.3.1");
    assert_eq!(doc["nodes"][0]["source"]["kind"], "setup-cfg");
    assert_eq!(
        edges(&doc),
        [
            "cfgpkg -> d>=1 @ c/setup.cfg:9",
            "cfgpkg -> e ; python_full_version < '3.10' @ c/setup.cfg:10",
            "cfgpkg -> f [extra fast] @ c/setup.cfg:13",
            "cfgpkg -> setuptools @ c/pyproject.toml:2 (to build)",
        ]
    );
}

#[test]
fn setup_py_literals_variables_concatenation_and_kwargs() {
    let env = TestEnv::new();
    env.write(
        "s/setup.py",
        r#"
        import setuptools

        BASE = ["a>=1"]
        EXTRAS = {"x": ["b"]}
        META = dict  # not a literal, and not used
        KW = {"python_requires": ">=3.9", "extras_require": EXTRAS}

        if True:
            setuptools.setup(
                name="spkg",
                version="2.0",
                install_requires=BASE + ["c<2"],
                **KW,
            )
        "#,
    );
    let out = env.run(&["s"]).success();
    assert_eq!(out.stderr, "");
    let doc = out.json();
    assert_eq!(
        edges(&doc),
        [
            "spkg -> a>=1 @ s/setup.py:3",
            "spkg -> b [extra x] @ s/setup.py:4",
            "spkg -> c<2 @ s/setup.py:12"
        ]
    );
    let spkg = doc["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "spkg")
        .unwrap();
    assert_eq!(spkg["requires_python"], ">=3.9");
}

const DYNAMIC_SETUP_PY: &str = r#"
    from setuptools import setup

    with open("requirements.txt") as handle:
        REQUIRES = handle.read().splitlines()

    setup(
        name="dyn",
        version="1.0",
        install_requires=REQUIRES,
        py_modules=["dyn"],
    )
    "#;

#[test]
fn unreadable_setup_py_warns_with_file_line_and_what() {
    let env = TestEnv::new();
    env.write("dyn/setup.py", DYNAMIC_SETUP_PY)
        .write("dyn/requirements.txt", "h>=1\n")
        .write("dyn/dyn.py", "");
    let out = env.run(&["dyn"]).success();
    assert_eq!(
        out.stderr,
        "depgraph: warning: dyn/setup.py:4: install_requires is a call to handle.read().splitlines(); it cannot be \
         read statically and is left out (--exec-setup runs setup.py)\n"
    );
    let doc = out.json();
    assert_eq!(doc["nodes"].as_array().unwrap().len(), 1);
    assert_eq!(doc["edges"], serde_json::json!([]));
}

#[test]
fn exec_setup_runs_egg_info_in_a_copy() {
    let env = TestEnv::new();
    env.write("dyn/setup.py", DYNAMIC_SETUP_PY)
        .write("dyn/requirements.txt", "h>=1\ni[x]\n")
        .write("dyn/dyn.py", "");
    let python = python_venv().join("bin/python");
    let out = env
        .run(&["dyn", "--exec-setup", "--python", python.to_str().unwrap()])
        .success();
    assert_eq!(out.stderr, "");
    let doc = out.json();
    let got: Vec<_> = doc["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["to"].as_str().unwrap().to_owned(),
                e["specifier"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("h".to_owned(), ">=1".to_owned()),
            ("i".to_owned(), String::new())
        ]
    );
    // The tree itself is untouched: no egg-info, no build folder.
    let mut left: Vec<_> = std::fs::read_dir(env.path("dyn"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, ["dyn.py", "requirements.txt", "setup.py"]);
}

#[test]
fn a_repository_root_whose_pyproject_holds_only_tool_settings_is_walked_into() {
    let env = TestEnv::new();
    // A monorepo: tool settings at the root, the packages below it.
    env.write("repo/pyproject.toml", "[tool.black]\nline-length = 100\n")
        .write(
            "repo/packages/a/pyproject.toml",
            "[project]\nname = \"a\"\nversion = \"1\"\ndependencies = [\"b\"]\n",
        )
        .write("repo/packages/b/setup.cfg", "[metadata]\nname = b\nversion = 2\n");
    let doc = env.run(&["repo"]).success().json();
    let names: Vec<&str> = doc["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(doc["build_order"], serde_json::json!([["b"], ["a"]]));
    // Tool settings beside a setup.cfg: the setup.cfg is the project.
    env.write("tooled/pyproject.toml", "[tool.ruff]\nline-length = 100\n")
        .write("tooled/setup.cfg", "[metadata]\nname = tooled\nversion = 3\n");
    let doc = env.run(&["tooled"]).success().json();
    assert_eq!(doc["nodes"][0]["name"], "tooled");
    assert_eq!(doc["nodes"][0]["source"]["kind"], "setup-cfg");
    // Tool settings and nothing else: nothing found, and said so.
    env.write("tool-only/pyproject.toml", "[tool.black]\nline-length = 100\n");
    let out = env.run(&["tool-only"]).success();
    assert_eq!(
        out.stderr,
        "depgraph: warning: no source trees, environments, wheels or sdists found under the given paths\n"
    );
    assert_eq!(out.json()["nodes"], serde_json::json!([]));
}

#[test]
fn internal_globs_mark_third_party_names_as_in_house() {
    let env = TestEnv::new();
    env.write(
        "a/pyproject.toml",
        "[project]\nname = \"a\"\nversion = \"1\"\ndependencies = [\"katx\", \"numpy\"]\n",
    );
    let doc = env.run(&["a", "--internal", "kat*"]).success().json();
    let internal: Vec<_> = doc["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["name"].as_str().unwrap().to_owned(),
                n["internal"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        internal,
        [
            ("a".to_owned(), true),
            ("katx".to_owned(), true),
            ("numpy".to_owned(), false)
        ]
    );
    assert_eq!(doc["leaves"], serde_json::json!(["a"]));
    assert_eq!(doc["build_order"], serde_json::json!([["katx"], ["a"]]));
}

#[test]
fn an_extra_nobody_asks_for_makes_no_cycle() {
    let env = TestEnv::new();
    // a's dev extra needs b, and b needs a: no cycle once installed, since nobody asks for a[dev].
    env.write(
        "a/pyproject.toml",
        "[project]\nname = \"a\"\nversion = \"1\"\n[project.optional-dependencies]\ndev = [\"b\"]\n",
    )
    .write(
        "b/pyproject.toml",
        "[project]\nname = \"b\"\nversion = \"1\"\ndependencies = [\"a\"]\n",
    );
    let doc = env.run(&["a", "b"]).success().json();
    assert_eq!(doc["cycles"], serde_json::json!([]));
    assert_eq!(doc["build_order"], serde_json::json!([["a"], ["b"]]));
    // What a change to b affects still includes a, whose dev extra uses b.
    let affected = env
        .run_stdin(
            &["affected", "--changed", "b", "--format", "lines"],
            &doc.to_string(),
        )
        .success();
    assert_eq!(affected.stdout, "a\nb\n");
    // Once some package asks for a[dev], the cycle is real and reported.
    env.write(
        "c/pyproject.toml",
        "[project]\nname = \"c\"\nversion = \"1\"\ndependencies = [\"a[dev]\"]\n",
    );
    let out = env.run(&["a", "b", "c"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("dependency cycle: a -> b -> a"),
        "{}",
        out.stderr
    );
}

#[test]
fn build_requirements_are_edges_of_their_own_built_first_and_never_leaves() {
    let env = TestEnv::new();
    // katversion is an in-house build helper: katcore needs it to build, nobody to run.
    env.write(
        "katversion/pyproject.toml",
        "[build-system]\nrequires = [\"setuptools>=61\"]\n[project]\nname = \"katversion\"\nversion = \"1.1\"\n",
    );
    env.write(
        "katcore/pyproject.toml",
        "[build-system]\nrequires = [\n  \"setuptools>=61\",\n  \"katversion>=1.0\",\n]\n\
         [project]\nname = \"katcore\"\nversion = \"1.0\"\ndependencies = [\"katcp\"]\n",
    );
    env.write(
        "katcp/setup.cfg",
        "[metadata]\nname = katcp\nversion = 0.9\n[options]\nsetup_requires =\n    katversion\n",
    );
    let out = env.run(&["."]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let build: Vec<String> = doc["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "build")
        .map(|e| {
            format!(
                "{} -> {} @ {}",
                e["from"].as_str().unwrap(),
                e["to"].as_str().unwrap(),
                e["declared_at"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        build,
        [
            "katcore -> katversion @ ./katcore/pyproject.toml:4",
            "katcore -> setuptools @ ./katcore/pyproject.toml:3",
            "katcp -> katversion @ ./katcp/setup.cfg:6",
            "katversion -> setuptools @ ./katversion/pyproject.toml:2",
        ]
    );
    // A run-time edge carries no kind.
    assert!(
        doc["edges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["to"] == "katcp" && e.get("kind").is_none())
    );
    assert_eq!(doc["leaves"], serde_json::json!(["katcore"]));
    assert_eq!(
        doc["build_order"],
        serde_json::json!([["katversion"], ["katcp"], ["katcore"]])
    );
    // What a change to the build helper affects: everything built with it, in order.
    let affected = env.run_stdin(
        &["affected", "--changed", "katversion", "--format", "lines"],
        &out.stdout,
    );
    assert_eq!(affected.code, 0, "{}", affected.stderr);
    assert_eq!(affected.stdout, "katversion\nkatcp\nkatcore\n");
    // The tree says which edge is for building.
    let tree = env.run_stdin(&["render", "--format", "tree"], &out.stdout);
    assert!(
        tree.stdout
            .contains("- katversion [required: >=1.0, version: 1.1, to build]"),
        "{}",
        tree.stdout
    );
}

//! Bad input: every case names the file (and line), exits with the documented code and prints
//! nothing on stdout that could pass for a result.

use crate::testenv::TestEnv;

#[track_caller]
fn fails(env: &TestEnv, args: &[&str], code: i32, stderr: &str) {
    let out = env.run(args);
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (code, stderr),
        "stdout: {}",
        out.stdout
    );
    assert_eq!(out.stdout, "", "nothing partial on stdout");
}

#[test]
fn malformed_toml_names_file_and_line() {
    let env = TestEnv::new();
    env.write(
        "p/pyproject.toml",
        "[project]\nname = \"p\"\ndependencies = [\"a\",\n  \"b\"\nversion = \"1\"\n",
    );
    let out = env.run(&["p"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .starts_with("depgraph: p/pyproject.toml:5: invalid TOML: "),
        "{}",
        out.stderr
    );
    assert_eq!(out.stdout, "");
}

#[test]
fn wrong_toml_types_name_the_line() {
    let env = TestEnv::new();
    env.write(
        "p/pyproject.toml",
        "[project]\nname = \"p\"\n\ndependencies = \"a>=1\"\n",
    );
    let out = env.run(&["p"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.starts_with(
            "depgraph: p/pyproject.toml:4: invalid TOML: invalid type: string \"a>=1\", expected a sequence"
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn malformed_setup_cfg_names_file_and_line() {
    let env = TestEnv::new();
    env.write(
        "c/setup.cfg",
        "[metadata]\nname = c\n[options]\ninstall_requires\n",
    );
    fails(
        &env,
        &["c"],
        2,
        "depgraph: c/setup.cfg:4: expected `key = value`: \"install_requires\"\n",
    );
}

#[test]
fn invalid_requirement_names_file_and_line() {
    let env = TestEnv::new();
    env.write(
        "c/setup.cfg",
        "[metadata]\nname = c\n[options]\ninstall_requires =\n    good>=1\n    bad >> 2\n",
    );
    let out = env.run(&["c"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .starts_with("depgraph: c/setup.cfg:6: invalid requirement \"bad >> 2\": "),
        "{}",
        out.stderr
    );
    assert_eq!(out.stdout, "");
}

#[test]
fn setup_py_syntax_error_names_file_and_line() {
    let env = TestEnv::new();
    env.write(
        "s/setup.py",
        "from setuptools import setup\n\nsetup(name='s',\n      version='1'\n      install_requires=[])\n",
    );
    let out = env.run(&["s"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.starts_with("depgraph: s/setup.py:5: invalid Python: "),
        "{}",
        out.stderr
    );
}

#[test]
fn malformed_metadata_names_file_and_line() {
    let env = TestEnv::new();
    env.write(
        "sp/x-1.0.dist-info/METADATA",
        "Metadata-Version: 2.1\nName: x\nVersion 1.0\n",
    );
    fails(
        &env,
        &["sp"],
        2,
        "depgraph: sp/x-1.0.dist-info/METADATA:3: not a `Name: value` metadata header: \"Version 1.0\"\n",
    );
}

#[test]
fn malformed_metadata_inside_a_wheel_names_the_entry() {
    let env = TestEnv::new();
    std::fs::create_dir_all(env.path("w")).unwrap();
    let file = std::fs::File::create(env.path("w/x-1.0-py3-none-any.whl")).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    zip.start_file(
        "x-1.0.dist-info/METADATA",
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    std::io::Write::write_all(&mut zip, b"Name: x\n  \nRequires-Dist: ok\n").unwrap();
    zip.start_file("x/__init__.py", zip::write::SimpleFileOptions::default())
        .unwrap();
    zip.finish().unwrap();
    // A line of spaces continues a header (it does not end them): a valid file. Now a bad one:
    let file = std::fs::File::create(env.path("w/y-1.0-py3-none-any.whl")).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    zip.start_file(
        "y-1.0.dist-info/METADATA",
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    std::io::Write::write_all(
        &mut zip,
        b"Metadata-Version: 2.1\nName: y\nRequires-Dist: a >>> 1\n",
    )
    .unwrap();
    zip.finish().unwrap();
    let out = env.run(&["w"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.starts_with(
            "depgraph: w/y-1.0-py3-none-any.whl!y-1.0.dist-info/METADATA:3: invalid requirement \"a >>> 1\""
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn a_cycle_prints_its_path_and_exits_1() {
    let env = TestEnv::new();
    env.write(
        "a/pyproject.toml",
        "[project]\nname = \"a\"\nversion = \"1\"\ndependencies = [\"b\"]\n",
    )
    .write(
        "b/pyproject.toml",
        "[project]\nname = \"b\"\nversion = \"1\"\ndependencies = [\"c\"]\n",
    )
    .write(
        "c/pyproject.toml",
        "[project]\nname = \"c\"\nversion = \"1\"\ndependencies = [\"a\"]\n",
    );
    let out = env.run(&["a", "b", "c"]);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        "depgraph: error: dependency cycle: a -> b -> c -> a\n\
         depgraph: error: the in-house packages have a dependency cycle, so there is no build order\n"
    );
    // The document is complete and says there is no build order.
    let doc = out.json();
    assert_eq!(doc["build_order"], serde_json::Value::Null);
    assert_eq!(doc["cycles"], serde_json::json!([["a", "b", "c", "a"]]));
    let affected = env.run_stdin(&["affected", "--changed", "a"], &out.stdout);
    assert_eq!(affected.code, 2);
    assert!(
        affected.stderr.contains("dependency cycle (a -> b -> c -> a)"),
        "{}",
        affected.stderr
    );
}

#[test]
fn a_missing_path_exits_2() {
    let env = TestEnv::new();
    fails(
        &env,
        &["nope"],
        2,
        "depgraph: nope: No such file or directory (os error 2)\n",
    );
}

#[test]
fn an_unknown_file_kind_exits_2() {
    let env = TestEnv::new();
    env.write("notes.txt", "hello\n");
    fails(
        &env,
        &["notes.txt"],
        2,
        "depgraph: notes.txt: not a source tree, environment, wheel or sdist (expected a folder, pyproject.toml, setup.cfg, setup.py, .whl, .tar.gz or .zip)\n",
    );
}

#[test]
fn bad_graph_documents_are_refused() {
    let env = TestEnv::new();
    env.write("g.json", "{\"schema\": \"lastmile.graph/v9\", \"nodes\": []}\n")
        .write("bad.json", "{ not json\n");
    fails(
        &env,
        &["check", "g.json"],
        2,
        "depgraph: g.json: this is a lastmile.graph/v9 document; expected lastmile.graph/v1\n",
    );
    let out = env.run(&["render", "bad.json"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .starts_with("depgraph: bad.json: not a JSON document: key must be a string at line 1"),
        "{}",
        out.stderr
    );
    // Well-formed, but an edge names a package that is not a node: refused, not a panic.
    env.write(
        "dangling.json",
        r#"{"schema":"lastmile.graph/v1","nodes":[{"name":"a","version":null,"internal":true,"source":null,
            "requires_python":null,"extras":[],"scripts":{}}],"edges":[{"from":"a","to":"zzz","specifier":"",
            "extras":[],"extra":null,"marker":null,"url":null,"declared_at":null}],"roots":[],"leaves":[],
            "build_order":[],"cycles":[],"duplicates":[]}"#,
    );
    for command in ["affected", "render", "check"] {
        let mut args = vec![command, "dangling.json"];
        if command == "affected" {
            args.extend(["--changed", "a"]);
        }
        fails(
            &env,
            &args,
            2,
            "depgraph: dangling.json: inconsistent lastmile.graph/v1 document: an edge names zzz, which is not a node\n",
        );
    }
    let out = env.run_stdin(&["render"], "{\"schema\": \"lastmile.graph/v1\"}");
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .starts_with("depgraph: <stdin>:1: invalid lastmile.graph/v1 document: missing field `nodes`"),
        "{}",
        out.stderr
    );
}

#[test]
fn no_paths_and_no_stdin_is_a_usage_error() {
    let env = TestEnv::new();
    // stdin is /dev/null: not a terminal, so it is read, and it names no path.
    fails(
        &env,
        &[],
        2,
        "depgraph: no paths to scan: none on the command line and none on standard input (see --help)\n",
    );
    let out = env.run_stdin(&["-"], "\n  \n");
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stdout.is_empty());
    let out = env.run(&["--bogus"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("unexpected argument '--bogus'"),
        "{}",
        out.stderr
    );
}

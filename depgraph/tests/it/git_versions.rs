//! Versions computed from git when a package is built (setuptools_scm, katversion): the graph
//! says the release a tagged HEAD builds, says why otherwise, and `--exec-setup` runs where the
//! build backend sees the history.

use std::process::Command;

use crate::testenv::{TestEnv, python_venv};
use lastmile_tests::git;

/// A repository holding one package whose version setuptools_scm computes, tagged v1.2.0.
fn scm_package(env: &TestEnv) {
    env.write(
        "a/pyproject.toml",
        "[build-system]\nrequires = [\"setuptools>=64\", \"setuptools_scm>=8\"]\n\
         [project]\nname = \"alpha\"\ndynamic = [\"version\"]\n",
    );
    let dir = env.path("a");
    git(&dir, &["init", "-q"]);
    git(&dir, &["add", "."]);
    git(&dir, &["commit", "-q", "-m", "first"]);
    git(&dir, &["tag", "v1.2.0"]);
}

fn version_and_warnings(env: &TestEnv, dir: &str) -> (serde_json::Value, String) {
    let out = env.run(&[dir]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    (doc["nodes"][0]["version"].clone(), out.stderr)
}

#[test]
fn a_tagged_head_gives_its_release_and_anything_else_says_why_not() {
    let env = TestEnv::new();
    scm_package(&env);
    let (version, stderr) = version_and_warnings(&env, "a");
    assert_eq!(version, "1.2.0", "{stderr}");
    assert_eq!(stderr, "");

    // An untracked file changes nothing (as for setuptools_scm); a changed tracked file does.
    env.write("a/alpha.py", "X = 1\n");
    assert_eq!(version_and_warnings(&env, "a").0, "1.2.0");
    let text = std::fs::read_to_string(env.path("a/pyproject.toml")).unwrap();
    env.write("a/pyproject.toml", &format!("{text}# changed\n"));
    let (version, stderr) = version_and_warnings(&env, "a");
    assert_eq!(version, serde_json::Value::Null);
    assert!(
        stderr.contains("a: the version is computed from git when it is built (setuptools-scm): at tag v1.2.0 with uncommitted changes"),
        "{stderr}"
    );
    git(&env.path("a"), &["add", "."]);
    git(&env.path("a"), &["commit", "-q", "-m", "second"]);
    let (version, stderr) = version_and_warnings(&env, "a");
    assert_eq!(version, serde_json::Value::Null);
    assert!(stderr.contains("1 commit after tag v1.2.0 (g"), "{stderr}");
    assert!(
        stderr.contains("so the build makes a development version; it is left null here"),
        "{stderr}"
    );

    // A copy without history: said, not a made-up version.
    std::fs::create_dir_all(env.path("export")).unwrap();
    std::fs::copy(env.path("a/pyproject.toml"), env.path("export/pyproject.toml")).unwrap();
    let (version, stderr) = version_and_warnings(&env, "export");
    assert_eq!(version, serde_json::Value::Null);
    assert!(
        stderr.contains("there is no git history here (a copy or an export)"),
        "{stderr}"
    );
}

#[test]
fn exec_setup_sees_the_history_and_leaves_the_repository_untouched() {
    let env = TestEnv::new();
    // katversion's way: setup.py asks git itself; nothing static to read.
    env.write(
        "repo/pkg/setup.py",
        "import subprocess\nfrom setuptools import setup\n\
         v = subprocess.check_output(['git', 'describe', '--tags']).decode().strip().lstrip('v')\n\
         setup(name='beta', version=v, py_modules=['beta'])\n",
    )
    .write("repo/pkg/beta.py", "");
    let repo = env.path("repo");
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "first"]);
    git(&repo, &["tag", "v3.4.5"]);
    let index_before = std::fs::read(repo.join(".git/index")).unwrap();
    let python = python_venv().join("bin/python");
    let out = env.run(&["repo/pkg", "--exec-setup", "--python", python.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["nodes"][0]["version"], "3.4.5", "{}", out.stderr);
    assert_eq!(
        std::fs::read(repo.join(".git/index")).unwrap(),
        index_before,
        "the index was written"
    );
    let status = Command::new("git")
        .args(["status", "--porcelain"])
        .current_dir(&repo)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&status.stdout),
        "",
        "the tree was written to"
    );
}

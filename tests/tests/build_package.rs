//! scripts/build-package on projects that are not the example's: its own test command, a test
//! that fails (nothing published), and a git-versioned tree without history (refused, never a
//! made-up version). The private index is a real pypiserver on loopback.

use std::path::Path;
use std::process::Command;

use lastmile_tests::{run_command, tool, workspace};

struct Index(std::path::PathBuf);

impl Drop for Index {
    fn drop(&mut self) {
        let _ = Command::new(workspace().join("scripts/pypiserver"))
            .arg("stop")
            .arg(&self.0)
            .status();
    }
}

fn project(dir: &Path, name: &str, pyproject: &str) {
    std::fs::create_dir_all(dir.join(name)).unwrap();
    std::fs::write(dir.join(format!("{name}/pyproject.toml")), pyproject).unwrap();
    std::fs::write(dir.join(format!("{name}/{name}.py")), "X = 1\n").unwrap();
}

fn build(name: &str, graph: &Path, url: &str, index: &Path, out: &Path) -> lastmile_tests::Output {
    run_command(
        Command::new(workspace().join("scripts/build-package"))
            .arg(name)
            .args(["--index-url", url, "--index-dir"])
            .arg(index)
            .arg("--graph")
            .arg(graph)
            .arg("--out-dir")
            .arg(out),
        None,
    )
}

#[test]
fn any_project_builds_with_its_own_test_command_and_a_failure_publishes_nothing() {
    let dir = tempfile::Builder::new()
        .prefix("lastmile-build-package-")
        .tempdir()
        .unwrap();
    let src = dir.path().join("src");
    let setuptools =
        "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n";
    project(
        &src,
        "alpha",
        &format!(
            "{setuptools}[project]\nname = \"alpha\"\nversion = \"1.0\"\n[tool.setuptools]\npy-modules = [\"alpha\"]\n[tool.lastmile]\ntest = \"python -c 'import alpha; assert alpha.X == 1' && touch tested\"\n"
        ),
    );
    project(
        &src,
        "beta",
        &format!(
            "{setuptools}[project]\nname = \"beta\"\nversion = \"1.0\"\n[tool.setuptools]\npy-modules = [\"beta\"]\n[tool.lastmile]\ntest = \"python -c 'import beta; assert beta.X == 2, beta.X'\"\n"
        ),
    );
    // Its version from git (setuptools_scm), in a folder with no history.
    project(
        &src,
        "gamma",
        "[build-system]\nrequires = [\"setuptools>=61\", \"setuptools_scm>=8\"]\n[project]\nname = \"gamma\"\ndynamic = [\"version\"]\n",
    );
    let graph = dir.path().join("graph.json");
    let scan = run_command(
        Command::new(tool("depgraph")).arg(&src).arg("-o").arg(&graph),
        None,
    );
    assert_eq!(scan.code, 0, "{}", scan.stderr);
    let index = dir.path().join("index");
    let started = run_command(
        Command::new(workspace().join("scripts/pypiserver"))
            .arg("start")
            .arg(&index),
        None,
    );
    assert_eq!(started.code, 0, "{}", started.stderr);
    let _index = Index(index.clone());
    let url = started.stdout.trim().to_owned();
    let out = dir.path().join("dist");

    let alpha = build("alpha", &graph, &url, &index, &out);
    assert_eq!(alpha.code, 0, "{}", alpha.stderr);
    assert_eq!(
        alpha.stdout.trim(),
        index.join("alpha-1.0-py3-none-any.whl").display().to_string()
    );
    assert!(
        src.join("alpha/tested").exists(),
        "its own test command did not run in its folder"
    );

    let beta = build("beta", &graph, &url, &index, &out);
    assert_ne!(beta.code, 0);
    assert!(
        beta.stderr.contains("beta: its unit tests failed; not published"),
        "{}",
        beta.stderr
    );
    assert!(
        beta.stderr.contains("AssertionError: 1"),
        "the test's own output is shown: {}",
        beta.stderr
    );
    assert!(!index.join("beta-1.0-py3-none-any.whl").exists());

    let gamma = build("gamma", &graph, &url, &index, &out);
    assert_ne!(gamma.code, 0);
    assert!(
        gamma
            .stderr
            .contains("gamma: its version is computed from git, but ")
            && gamma
                .stderr
                .contains("has no git history: clone it with its history and tags"),
        "{}",
        gamma.stderr
    );
}

//! `depgraph versions`: the version each in-house package is published as when built from the
//! commit its tree is at. The same commit gives the same versions; a commit to one tree moves
//! only that package's; uncommitted changes and shallow clones are refused naming the package; a
//! version computed by the build backend is listed only at a release tag.

use crate::testenv::TestEnv;
use lastmile_tests::git;

/// A repository of `core` 1.3.0 and `app` 0.2 (depends on core) and docs, one commit, with its
/// graph in `graph.json`.
fn repository() -> TestEnv {
    let env = TestEnv::new();
    env.write(
        "repo/core/pyproject.toml",
        "[project]\nname = \"core\"\nversion = \"1.3.0\"\n",
    );
    env.write("repo/core/core.py", "X = 1\n");
    env.write(
        "repo/app/setup.py",
        "from setuptools import setup\nsetup(name='app', version='0.2', install_requires=['core>=1.2'])\n",
    );
    env.write("repo/docs/index.md", "# docs\n");
    let repo = env.path("repo");
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "first"]);
    let graph = env.run(&["repo/core", "repo/app"]).success();
    env.write("graph.json", &graph.stdout);
    env
}

/// The last commit of a tree, as a version names it.
fn last(env: &TestEnv, tree: &str) -> String {
    let out = std::process::Command::new("git")
        .args(["log", "-1", "--format=%h", "--abbrev=12", "--", "."])
        .current_dir(env.path(tree))
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn each_commit_of_a_tree_has_a_version_of_its_own() {
    let env = repository();
    let first = env.run(&["versions", "graph.json"]).success();
    let (core, app) = (last(&env, "repo/core"), last(&env, "repo/app"));
    assert_eq!(
        first.stdout,
        format!("app==0.2.post1+g{app}\ncore==1.3.0.post1+g{core}\n")
    );
    assert_eq!(first.stderr, "");

    // A commit elsewhere moves nothing; one to core moves core's only.
    env.write("repo/docs/index.md", "# more docs\n");
    git(&env.path("repo"), &["commit", "-q", "-am", "docs"]);
    assert_eq!(
        env.run(&["versions", "graph.json"]).success().stdout,
        first.stdout
    );
    env.write("repo/core/core.py", "X = 2\n");
    git(&env.path("repo"), &["commit", "-q", "-am", "core"]);
    let core2 = last(&env, "repo/core");
    assert_ne!(core2, core);
    assert_eq!(
        env.run(&["versions", "graph.json"]).success().stdout,
        format!("app==0.2.post1+g{app}\ncore==1.3.0.post2+g{core2}\n")
    );

    let doc = env
        .run(&["versions", "graph.json", "--package", "core", "--format", "json"])
        .success()
        .json();
    lastmile_tests::schema::assert_valid(&doc, "versions.v1");
    assert_eq!(
        doc["packages"],
        serde_json::json!([{
            "name": "core",
            "declared": "1.3.0",
            "version": format!("1.3.0.post2+g{core2}"),
            "from": "commit",
            "commits": 2,
            "commit": core2,
            "path": "repo/core",
        }])
    );
}

#[test]
fn uncommitted_changes_and_a_shallow_clone_are_refused_naming_the_package() {
    let env = repository();
    env.write("repo/core/new.py", "Y = 1\n");
    let out = env.run(&["versions", "graph.json"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.contains(
            "depgraph: core: uncommitted changes in repo/core (core/new.py): commit them first, a build's version names the commit it was built from"
        ),
        "{}",
        out.stderr
    );
    std::fs::remove_file(env.path("repo/core/new.py")).unwrap();

    // Two commits, cloned one deep: the commits of a tree cannot be counted.
    env.write("repo/app/README", "app\n");
    git(&env.path("repo"), &["add", "."]);
    git(&env.path("repo"), &["commit", "-q", "-m", "readme"]);
    let url = format!("file://{}", env.path("repo").display());
    git(&env.path(""), &["clone", "-q", "--depth", "1", &url, "shallow"]);
    let graph = env.run(&["shallow/core", "shallow/app"]).success();
    env.write("shallow.json", &graph.stdout);
    let out = env.run(&["versions", "shallow.json"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("2 packages have no version per build:")
            && out.stderr.contains(
                "app: shallow/app is in a shallow clone, so the commits of its tree cannot be counted: git fetch --unshallow"
            ),
        "{}",
        out.stderr
    );
    let out = env.run(&["versions", "graph.json", "--package", "numpy"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("--package numpy: no package named numpy in the graph"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_backend_version_is_known_at_a_tag_only_and_a_copy_keeps_its_declared_one() {
    let env = TestEnv::new();
    env.write(
        "scm/pyproject.toml",
        "[build-system]\nrequires = [\"setuptools>=64\", \"setuptools_scm>=8\"]\n\
         [project]\nname = \"alpha\"\ndynamic = [\"version\"]\n",
    );
    git(&env.path("scm"), &["init", "-q"]);
    git(&env.path("scm"), &["add", "."]);
    git(&env.path("scm"), &["commit", "-q", "-m", "first"]);
    git(&env.path("scm"), &["tag", "v1.2.0"]);
    env.write(
        "copy/pyproject.toml",
        "[project]\nname = \"beta\"\nversion = \"3.0\"\n",
    );
    let graph = env.run(&["scm", "copy"]).success();
    env.write("graph.json", &graph.stdout);
    let out = env.run(&["versions", "graph.json"]).success();
    assert_eq!(out.stdout, "alpha==1.2.0\nbeta==3.0\n");
    assert!(
        out.stderr.contains(
            "beta: copy is not in a git repository, so it keeps its declared version 3.0, which names no commit"
        ),
        "{}",
        out.stderr
    );

    env.write("scm/alpha.py", "X = 1\n");
    git(&env.path("scm"), &["add", "."]);
    git(&env.path("scm"), &["commit", "-q", "-m", "after the tag"]);
    let graph = env.run(&["scm", "copy", "-q"]).success();
    env.write("graph.json", &graph.stdout);
    let out = env.run(&["versions", "graph.json"]).success();
    assert_eq!(out.stdout, "beta==3.0\n");
    assert!(
        out.stderr.contains(
            "alpha: its build backend computes its version from git when it is built, so it is not known before and not constrained"
        ),
        "{}",
        out.stderr
    );
}

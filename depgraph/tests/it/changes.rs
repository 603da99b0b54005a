//! `affected --changed-file` and `--since`: changed files to the packages whose source trees hold
//! them (the deepest when trees nest), then everything downstream in build order; a change to no
//! package's tree affects none and says so.

use crate::testenv::TestEnv;
use lastmile_tests::git;

/// A repository `repo` of three packages: `core`, `app` (depends on core) and `ext` nested in
/// app's tree, plus docs; one commit. The graph of it in `graph.json`, beside the repository.
fn repository() -> TestEnv {
    let env = TestEnv::new();
    let project = |name: &str, deps: &str| {
        format!("[project]\nname = \"{name}\"\nversion = \"1.0\"\ndependencies = [{deps}]\n")
    };
    env.write("repo/core/pyproject.toml", &project("core", ""));
    env.write("repo/core/core.py", "X = 1\n");
    env.write("repo/core/old.py", "OLD = 1\n");
    env.write("repo/app/pyproject.toml", &project("app", "\"core\""));
    env.write("repo/app/app.py", "import core\n");
    env.write("repo/app/plugins/ext/pyproject.toml", &project("ext", ""));
    env.write("repo/docs/index.md", "# docs\n");
    let repo = env.path("repo");
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "first"]);
    let graph = env
        .run(&["repo/core", "repo/app", "repo/app/plugins/ext"])
        .success();
    env.write("graph.json", &graph.stdout);
    env
}

fn commit(env: &TestEnv, message: &str) {
    let repo = env.path("repo");
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", message]);
}

fn lines(env: &TestEnv, args: &[&str]) -> String {
    let mut all = vec!["affected", "graph.json", "--format", "lines"];
    all.extend(args);
    env.run(&all).success().stdout
}

#[test]
fn a_commit_to_a_package_rebuilds_it_and_what_is_downstream() {
    let env = repository();
    env.write("repo/core/core.py", "X = 2\n");
    commit(&env, "core changed");
    let since = ["--since", "HEAD~1", "--until", "HEAD", "--repo", "repo"];
    assert_eq!(lines(&env, &since), "core\napp\n");
    let mut args = vec!["affected", "graph.json"];
    args.extend(since);
    let doc = env.run(&args).success().json();
    assert_eq!(
        doc["changed_files"],
        serde_json::json!([{"path": "core/core.py", "package": "core"}])
    );
    lastmile_tests::schema::assert_valid(&doc, "affected.v1");

    // A deleted file is a change to the tree it was in.
    std::fs::remove_file(env.path("repo/core/old.py")).unwrap();
    commit(&env, "old code gone");
    assert_eq!(
        lines(&env, &["--since", "HEAD~1", "--repo", "repo"]),
        "core\napp\n"
    );
}

#[test]
fn uncommitted_and_new_files_count_and_the_nested_tree_wins() {
    let env = repository();
    env.write("repo/app/plugins/ext/new.py", "Y = 1\n");
    assert_eq!(lines(&env, &["--since", "HEAD", "--repo", "repo"]), "ext\n");
    env.write("repo/app/app.py", "import core  # changed\n");
    assert_eq!(lines(&env, &["--since", "HEAD", "--repo", "repo"]), "app\next\n");
    // --until: the commits only, not the working tree.
    assert_eq!(
        lines(&env, &["--since", "HEAD", "--until", "HEAD", "--repo", "repo"]),
        ""
    );
    assert_eq!(
        lines(&env, &["--changed-file", "repo/core/core.py", "--changed", "ext"]),
        "core\next\napp\n"
    );
}

#[test]
fn a_change_outside_every_package_rebuilds_nothing_and_says_so() {
    let env = repository();
    env.write("repo/docs/index.md", "# more docs\n");
    env.write("repo/Jenkinsfile", "pipeline {}\n");
    commit(&env, "docs");
    let out = env
        .run(&[
            "affected",
            "graph.json",
            "--since",
            "HEAD~1",
            "--until",
            "HEAD",
            "--repo",
            "repo",
        ])
        .success();
    let doc = out.json();
    assert_eq!(doc["build_order"], serde_json::json!([]));
    assert_eq!(
        doc["changed_files"],
        serde_json::json!([
            {"path": "Jenkinsfile", "package": null},
            {"path": "docs/index.md", "package": null}
        ])
    );
    assert!(
        out.stderr.contains(
            "none of the 2 changed files is in an in-house package's source tree (Jenkinsfile, docs/index.md): nothing to rebuild"
        ),
        "{}",
        out.stderr
    );
    let none = env
        .run(&[
            "affected",
            "graph.json",
            "--since",
            "HEAD",
            "--until",
            "HEAD",
            "--repo",
            "repo",
            "--format",
            "lines",
        ])
        .success();
    assert_eq!(none.stdout, "");
    assert!(
        none.stderr.contains("no file changed: nothing to rebuild"),
        "{}",
        none.stderr
    );
}

#[test]
fn a_bad_commit_or_a_folder_outside_git_is_refused() {
    let env = repository();
    let out = env.run(&[
        "affected",
        "graph.json",
        "--since",
        "no-such-rev",
        "--repo",
        "repo",
    ]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("--since no-such-rev: no such commit in ") && out.stderr.contains("/repo"),
        "{}",
        out.stderr
    );
    let out = env.run(&[
        "affected",
        "graph.json",
        "--since",
        "HEAD",
        "--until",
        "nope",
        "--repo",
        "repo",
    ]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("--until nope: no such commit"),
        "{}",
        out.stderr
    );
    std::fs::create_dir_all(env.path("plain")).unwrap();
    let out = env.run(&["affected", "graph.json", "--since", "HEAD", "--repo", "plain"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("--since: plain is not in a git repository"),
        "{}",
        out.stderr
    );
    let out = env.run(&["affected", "graph.json", "--until", "HEAD"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("--since <REV>"), "{}", out.stderr);
}

#[test]
fn all_is_every_in_house_package_in_build_order() {
    let env = repository();
    assert_eq!(lines(&env, &["--all"]), "core\next\napp\n");
}

#[test]
fn a_changed_input_of_the_candidate_makes_one_without_a_rebuild_and_docs_make_none() {
    let env = repository();
    env.write("repo/services.toml", "[services]\n");
    env.write("repo/lock/os-lock.json", "{}\n");
    commit(&env, "inputs");
    env.write("repo/services.toml", "[services.a]\n");
    env.write("repo/docs/index.md", "# more docs\n");
    commit(&env, "a service and docs");
    let affected = |since: &str| {
        env.run(&[
            "affected",
            "graph.json",
            "--since",
            since,
            "--until",
            "HEAD",
            "--repo",
            "repo",
            "--input",
            "repo/services.toml",
            "--input",
            "repo/lock",
        ])
        .success()
    };
    let out = affected("HEAD~1");
    let doc = out.json();
    lastmile_tests::schema::assert_valid(&doc, "affected.v1");
    assert_eq!(doc["build_order"], serde_json::json!([]));
    assert_eq!(doc["candidate"], true);
    assert_eq!(doc["inputs_changed"], serde_json::json!(["repo/services.toml"]));
    assert_eq!(
        doc["changed_files"],
        serde_json::json!([
            {"path": "docs/index.md", "package": null},
            {"path": "services.toml", "package": null, "input": "repo/services.toml"}
        ])
    );
    assert!(
        out.stderr.contains(
            "no package to rebuild, but an input of the candidate changed (services.toml): a new candidate"
        ),
        "{}",
        out.stderr
    );

    // A file in an input folder counts; docs alone make no candidate.
    env.write("repo/lock/os-lock.json", "{\"x\": 1}\n");
    commit(&env, "relock");
    assert_eq!(
        affected("HEAD~1").json()["inputs_changed"],
        serde_json::json!(["repo/lock"])
    );
    env.write("repo/docs/index.md", "# docs again\n");
    commit(&env, "docs");
    let out = affected("HEAD~1");
    assert_eq!(out.json()["candidate"], false);
    assert!(
        out.stderr.contains(
            "none of the 1 changed file is in an in-house package's source tree or an --input (docs/index.md): nothing to rebuild, no candidate"
        ),
        "{}",
        out.stderr
    );
    // A package change is a candidate too.
    env.write("repo/core/core.py", "X = 3\n");
    commit(&env, "core");
    assert_eq!(affected("HEAD~1").json()["candidate"], true);
}

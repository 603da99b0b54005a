//! `affected`, `render` and `check`, reading graph documents from stdin or a file.

use std::process::Command;

use crate::testenv::{TestEnv, run_in, workspace};

fn example_graph() -> String {
    run_in(&workspace(), &["examples/cam"], None).success().stdout
}

fn graph_of(env: &TestEnv, args: &[&str]) -> String {
    env.run(args).stdout
}

#[test]
fn affected_by_a_core_change() {
    let out = run_in(
        &workspace(),
        &["affected", "--changed", "katcore"],
        Some(&example_graph()),
    )
    .success();
    let doc = out.json();
    assert_eq!(doc["schema"], "lastmile.affected/v1");
    assert_eq!(
        doc["build_order"],
        serde_json::json!([
            ["katcore"],
            ["katconfserver", "katproxy", "katsim", "katuilib"],
            ["katcomp", "katobs", "katportal", "katulib"]
        ])
    );
    assert_eq!(
        doc["leaves"],
        serde_json::json!(["katcomp", "katobs", "katportal", "katproxy", "katsim", "katulib"])
    );
    assert!(
        !doc["affected"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("katpoint"))
    );
}

#[test]
fn affected_by_a_leaf_or_a_third_party_change() {
    let graph = example_graph();
    let out = run_in(
        &workspace(),
        &["affected", "--changed", "KatObs", "--format", "lines"],
        Some(&graph),
    )
    .success();
    assert_eq!(out.stdout, "katobs\n");
    // numpy is third-party: what uses it is rebuilt, and numpy itself is not built.
    let out = run_in(
        &workspace(),
        &["affected", "--changed", "numpy", "--format", "lines"],
        Some(&graph),
    )
    .success();
    assert_eq!(
        out.stdout,
        "katpoint\nkatsim\nkatuilib\nkatobs\nkatportal\nkatulib\n"
    );
    let doc = run_in(
        &workspace(),
        &["affected", "--changed", "numpy", "--changed", "katconf"],
        Some(&graph),
    )
    .success()
    .json();
    assert_eq!(doc["changed"], serde_json::json!(["katconf", "numpy"]));
}

#[test]
fn affected_by_an_unknown_package_is_an_error() {
    let out = run_in(
        &workspace(),
        &["affected", "--changed", "katfoo"],
        Some(&example_graph()),
    );
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr,
        "depgraph: --changed katfoo: no package named katfoo in the graph\n"
    );
    assert_eq!(out.stdout, "");
}

#[test]
fn render_tree_like_pipdeptree() {
    let graph = example_graph();
    let tree = run_in(&workspace(), &["render", "--internal-only"], Some(&graph))
        .success()
        .stdout;
    insta::assert_snapshot!("tree_internal", tree);
    let reverse = run_in(
        &workspace(),
        &["render", "--reverse", "--internal-only"],
        Some(&graph),
    )
    .success()
    .stdout;
    insta::assert_snapshot!("tree_reverse_internal", reverse);
    let full = run_in(&workspace(), &["render"], Some(&graph)).success().stdout;
    assert!(
        full.contains("  - numpy [required: >=1.24, version: ?]\n"),
        "{full}"
    );
    // Only the extras an edge asks for are expanded: katmisc's metrics extra appears under
    // katcore's monitoring extra, never under plain katmisc.
    assert!(full.contains("- katmisc[metrics] [required: >=1.1, version: 1.2.0, extra: monitoring]\n"));
    assert!(!full.contains("    - katmisc [required: >=1.1, version: 1.2.0]\n      - prometheus-client"));
}

#[test]
fn render_dot_that_graphviz_draws() {
    let graph_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(graph_file.path(), example_graph()).unwrap();
    for extra in [&[][..], &["--reverse"][..], &["--internal-only"][..]] {
        let mut args = vec!["render", "--format", "dot", graph_file.path().to_str().unwrap()];
        args.extend_from_slice(extra);
        let dot_source = run_in(&workspace(), &args, None).success().stdout;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("g.dot"), &dot_source).unwrap();
        let rendered = Command::new("dot")
            .args(["-Tsvg", "g.dot", "-o", "g.svg"])
            .current_dir(dir.path())
            .output()
            .expect("Graphviz `dot` is needed for this test (scripts/test installs it)");
        assert!(
            rendered.status.success(),
            "dot rejected the output: {}",
            String::from_utf8_lossy(&rendered.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&rendered.stderr), "", "dot warned");
        let svg = std::fs::read_to_string(dir.path().join("g.svg")).unwrap();
        assert!(svg.contains(">katcore</text>"));
    }
}

#[test]
fn render_mermaid() {
    let out = run_in(
        &workspace(),
        &["render", "--format", "mermaid", "--internal-only"],
        Some(&example_graph()),
    )
    .success();
    insta::assert_snapshot!("mermaid_internal", out.stdout);
    // Mermaid itself, in a browser, draws it: every in-house package a node, every edge a line.
    let (labels, edges) = lastmile_tests::render_mermaid(&out.stdout).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&example_graph()).unwrap();
    let mut expected: Vec<String> = doc["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["internal"].as_bool().unwrap())
        .map(|n| {
            format!(
                "{} {}",
                n["name"].as_str().unwrap(),
                n["version"].as_str().unwrap()
            )
        })
        .collect();
    expected.sort();
    assert_eq!(labels, expected);
    assert_eq!(
        edges,
        out.stdout.matches("-->").count() + out.stdout.matches("-.->").count()
    );
    // And a broken diagram is refused by it: the check can fail.
    assert!(lastmile_tests::render_mermaid("flowchart TD\n    n0[\"a\" -->|x n1\n").is_err());
}

fn problem_fixture(env: &TestEnv) {
    // a requires b>=2 but b is 1.0 (conflict); c appears twice (duplicate); a requires in-house d,
    // which is absent (missing); e and f depend on each other (cycle).
    env.write(
        "src/a/pyproject.toml",
        "[project]\nname = \"a\"\nversion = \"1\"\ndependencies = [\"b>=2\", \"c\", \"d\"]\n",
    )
    .write(
        "src/b/pyproject.toml",
        "[project]\nname = \"b\"\nversion = \"1.0\"\n",
    )
    .write(
        "src/c/pyproject.toml",
        "[project]\nname = \"c\"\nversion = \"1\"\n",
    )
    .write("vendor/c/setup.cfg", "[metadata]\nname = c\nversion = 2\n")
    .write(
        "src/e/pyproject.toml",
        "[project]\nname = \"e\"\nversion = \"1\"\ndependencies = [\"f\"]\n",
    )
    .write(
        "src/f/pyproject.toml",
        "[project]\nname = \"f\"\nversion = \"1\"\ndependencies = [\"e\"]\n",
    );
}

#[test]
fn check_reports_every_kind_of_problem() {
    let env = TestEnv::new();
    problem_fixture(&env);
    let graph = graph_of(&env, &["src", "vendor", "--internal", "d"]);
    let out = env.run_stdin(&["check"], &graph);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stdout,
        "conflict: a 1 requires b>=2, but b is 1.0 (declared at src/a/pyproject.toml:4)\n\
         duplicate: c is found 2 times: src/c (pyproject), vendor/c (setup-cfg)\n\
         missing: a 1 requires d, which was not found (declared at src/a/pyproject.toml:4)\n\
         cycle: e -> f -> e\n"
    );
    assert_eq!(out.stderr, "depgraph: error: 4 problems found\n");
    let json = env.run_stdin(&["check", "--json"], &graph);
    assert_eq!(json.code, 1);
    let doc = json.json();
    assert_eq!(doc["schema"], "lastmile.check/v1");
    let kinds: Vec<_> = doc["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["conflict", "duplicate", "missing", "cycle"]);
}

#[test]
fn check_of_the_example_finds_nothing() {
    let out = run_in(&workspace(), &["check"], Some(&example_graph()));
    assert_eq!((out.code, out.stdout.as_str(), out.stderr.as_str()), (0, "", ""));
}

#[test]
fn check_counts_only_the_dependencies_that_hold_on_the_target() {
    let env = TestEnv::new();
    env.write(
        "a/pyproject.toml",
        "[project]\nname = \"a\"\nversion = \"1\"\ndependencies = [\n  \"b<1; python_version < '3.8'\",\n  \"b>=1; python_version >= '3.8'\",\n]\n\
         [project.optional-dependencies]\nold = [\"b<0.5\"]\n",
    )
    .write("b/pyproject.toml", "[project]\nname = \"b\"\nversion = \"1.0\"\n");
    let graph = graph_of(&env, &["a", "b"]);
    // On 3.11 only b>=1 applies, and nobody asks for a[old]: no conflict.
    let out = env.run_stdin(&["check"], &graph);
    assert_eq!((out.code, out.stdout.as_str()), (0, ""), "{}", out.stderr);
    // On 3.7, b<1 applies and conflicts with b 1.0.
    let out = env.run_stdin(&["check", "--python-version", "3.7"], &graph);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout
            .starts_with("conflict: a 1 requires b<1 ; python_full_version < '3.8', but b is 1.0"),
        "{}",
        out.stdout
    );
    // Once something asks for a[old], its requirement counts.
    env.write(
        "c/pyproject.toml",
        "[project]\nname = \"c\"\nversion = \"1\"\ndependencies = [\"a[old]\"]\n",
    );
    let graph = graph_of(&env, &["a", "b", "c"]);
    let out = env.run_stdin(&["check"], &graph);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains("requires b<0.5 [extra old], but b is 1.0"),
        "{}",
        out.stdout
    );
}

#[test]
fn list_answers_scripts_in_plain_lines() {
    let graph = example_graph();
    let list = |args: &[&str]| run_in(&workspace(), args, Some(&graph));
    assert_eq!(
        list(&["list", "layers"]).success().stdout,
        "katconf katcp\nkatmisc\nkatcore katpoint\nkatconfserver katproxy katsim katuilib\nkatcomp katobs katportal katulib\n"
    );
    assert_eq!(
        list(&["list", "leaves"]).success().stdout,
        "katcomp\nkatobs\nkatportal\nkatproxy\nkatsim\nkatulib\n"
    );
    assert_eq!(list(&["list", "in-house"]).success().stdout.lines().count(), 13);
    assert!(
        list(&["list", "third-party"])
            .success()
            .stdout
            .contains("numpy\n")
    );
    assert_eq!(
        list(&["list", "sources", "--package", "KatCore"])
            .success()
            .stdout,
        "examples/cam/katcore\n"
    );
    assert!(
        list(&["list", "sources"])
            .success()
            .stdout
            .contains("katsim examples/cam/katsim\n")
    );
    let missing = list(&["list", "sources", "--package", "numpy"]);
    assert_eq!(missing.code, 2);
    assert_eq!(
        missing.stderr,
        "depgraph: numpy is in the graph only as a dependency: it was found at no path\n"
    );
    let unknown = list(&["list", "sources", "--package", "nothere"]);
    assert_eq!(
        (unknown.code, unknown.stderr.as_str()),
        (2, "depgraph: nothere is not a package of the graph\n")
    );
    // A cycle has no build order: a negative answer, not an error.
    let env = TestEnv::new();
    env.write(
        "a/pyproject.toml",
        "[project]\nname = \"a\"\nversion = \"1\"\ndependencies = [\"b\"]\n",
    )
    .write(
        "b/pyproject.toml",
        "[project]\nname = \"b\"\nversion = \"1\"\ndependencies = [\"a\"]\n",
    );
    let cyclic = graph_of(&env, &["a", "b"]);
    let out = env.run_stdin(&["list", "layers"], &cyclic);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("form a cycle"), "{}", out.stderr);
    assert_eq!(out.stdout, "");
}

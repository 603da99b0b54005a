//! The documents depgraph writes match the schemas committed under `schemas/`.

use lastmile_tests::schema::assert_valid;

use crate::testenv::{TestEnv, run_in, workspace};

#[test]
fn graph_affected_and_check_documents_match_their_schemas() {
    let graph = run_in(&workspace(), &["examples/cam"], None).success();
    assert_valid(&graph.json(), "graph.v1");
    let affected = run_in(
        &workspace(),
        &["affected", "--changed", "katmisc"],
        Some(&graph.stdout),
    )
    .success();
    assert_valid(&affected.json(), "affected.v1");

    // A graph with a cycle, duplicates and missing packages exercises the nullable fields.
    let env = TestEnv::new();
    env.write(
        "a/pyproject.toml",
        "[project]\nname = \"a\"\nversion = \"1\"\ndependencies = [\"b>=2\", \"zz\"]\n",
    )
    .write(
        "b/pyproject.toml",
        "[project]\nname = \"b\"\nversion = \"1\"\ndependencies = [\"a\"]\n",
    )
    .write("c/b/setup.cfg", "[metadata]\nname = b\n");
    let cyclic = env.run(&["a", "b", "c", "--internal", "zz"]);
    assert_eq!(cyclic.code, 1);
    assert_valid(&cyclic.json(), "graph.v1");
    let check = env.run_stdin(&["check", "--json"], &cyclic.stdout);
    assert_eq!(check.code, 1);
    assert_valid(&check.json(), "check.v1");
    assert_eq!(check.json()["problems"].as_array().unwrap().len(), 4);
}

//! The documents depgraph writes match the schemas committed under `schemas/`.

use crate::testenv::{TestEnv, run_in, workspace};

fn validator(name: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(workspace().join("schemas").join(name)).unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
}

#[track_caller]
fn assert_valid(validator: &jsonschema::Validator, doc: &serde_json::Value) {
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn graph_affected_and_check_documents_match_their_schemas() {
    let graph = run_in(&workspace(), &["examples/cam"], None).success();
    assert_valid(&validator("graph.v1.schema.json"), &graph.json());
    let affected = run_in(
        &workspace(),
        &["affected", "--changed", "katmisc"],
        Some(&graph.stdout),
    )
    .success();
    assert_valid(&validator("affected.v1.schema.json"), &affected.json());

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
    assert_valid(&validator("graph.v1.schema.json"), &cyclic.json());
    let check = env.run_stdin(&["check", "--json"], &cyclic.stdout);
    assert_eq!(check.code, 1);
    assert_valid(&validator("check.v1.schema.json"), &check.json());
    assert_eq!(check.json()["problems"].as_array().unwrap().len(), 4);
}

//! Documents checked against their JSON Schemas under `schemas/`: the one helper every test
//! that reads a document uses.

use crate::workspace;

/// The errors of `doc` against `schemas/NAME.schema.json` (`deployment.v1`), each with where.
pub fn errors(doc: &serde_json::Value, name: &str) -> Vec<String> {
    let path = workspace().join(format!("schemas/{name}.schema.json"));
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    validator
        .iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

/// `doc` is valid against `schemas/NAME.schema.json`.
#[track_caller]
pub fn assert_valid(doc: &serde_json::Value, name: &str) {
    let errors = errors(doc, name);
    assert!(errors.is_empty(), "not a valid {name} document: {errors:?}");
}

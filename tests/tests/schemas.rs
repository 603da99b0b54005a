//! Every document schema under `schemas/` is itself a valid JSON Schema (draft 2020-12), and its
//! `$id` names the document version the tools write in their `schema` field.

#[test]
fn every_schema_is_valid_and_named_after_its_document() {
    let dir = lastmile_tests::workspace().join("schemas");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let schema: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        jsonschema::meta::validate(&schema)
            .unwrap_or_else(|e| panic!("{}: not a valid schema: {e}", path.display()));
        let id = schema["$id"].as_str().unwrap();
        assert_eq!(schema["properties"]["schema"]["const"], id, "{}", path.display());
        let file = path.file_name().unwrap().to_str().unwrap();
        let (doc, version) = id.strip_prefix("lastmile.").unwrap().split_once('/').unwrap();
        assert_eq!(file, format!("{doc}.{version}.schema.json"));
        seen += 1;
    }
    assert!(seen >= 3, "found {seen} schemas");
}

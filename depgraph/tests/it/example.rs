//! The bundled example system, scanned from its source trees.

use crate::testenv::{run_in, workspace};

fn scan_example() -> crate::testenv::Output {
    run_in(&workspace(), &["examples/cam"], None).success()
}

#[test]
fn the_example_graph_is_the_documented_one() {
    let out = scan_example();
    assert_eq!(out.stderr, "", "a clean scan warns about nothing");
    insta::assert_snapshot!("example_graph", out.stdout);
}

#[test]
fn leaves_roots_and_build_layers() {
    let doc = scan_example().json();
    let names = |v: &serde_json::Value| {
        v.as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(&doc["leaves"]),
        ["katcomp", "katobs", "katportal", "katproxy", "katsim", "katulib"]
    );
    assert_eq!(names(&doc["roots"]), ["katconf", "katcp"]);
    let layers: Vec<Vec<String>> = doc["build_order"].as_array().unwrap().iter().map(names).collect();
    assert_eq!(layers[0], ["katconf", "katcp"]);
    assert_eq!(layers[1], ["katmisc"]);
    assert_eq!(layers.len(), 5);
    // Every in-house package is built after everything it depends on.
    let position = |name: &str| layers.iter().position(|l| l.iter().any(|n| n == name)).unwrap();
    for edge in doc["edges"].as_array().unwrap() {
        let (from, to) = (edge["from"].as_str().unwrap(), edge["to"].as_str().unwrap());
        if from.starts_with("kat") && to.starts_with("kat") && from != to {
            assert!(position(to) < position(from), "{to} must build before {from}");
        }
    }
}

#[test]
fn every_packaging_style_of_the_example_is_read() {
    let doc = scan_example().json();
    let node = |name: &str| {
        doc["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["name"] == name)
            .unwrap()
            .clone()
    };
    let kind = |name: &str| node(name)["source"]["kind"].as_str().unwrap().to_owned();
    assert_eq!(kind("katcp"), "pyproject");
    assert_eq!(kind("katconf"), "setup-cfg");
    assert_eq!(kind("katproxy"), "setup-py");
    // Version from [tool.setuptools.dynamic] version = {attr = ...}.
    assert_eq!(node("katcore")["version"], "1.3.0");
    let edges = doc["edges"].as_array().unwrap();
    let edge = |from: &str, to: &str| {
        edges
            .iter()
            .find(|e| e["from"] == from && e["to"] == to)
            .unwrap()
            .clone()
    };
    // Dependencies from a requirements.txt named by [tool.setuptools.dynamic].
    assert_eq!(
        edge("katconfserver", "katcore")["declared_at"],
        "examples/cam/katconfserver/requirements.txt:3"
    );
    // A setup.py list held in a module-level variable, and one built by concatenation.
    assert_eq!(
        edge("katcomp", "katcore")["declared_at"],
        "examples/cam/katcomp/setup.py:8"
    );
    assert_eq!(edge("katsim", "katpoint")["specifier"], ">=0.10");
    // Extras requested, extras provided, and markers.
    assert_eq!(
        edge("katportal", "katcore")["extras"],
        serde_json::json!(["monitoring"])
    );
    assert_eq!(edge("katcore", "katmisc")["specifier"], ">=1.1");
    let metrics = edges
        .iter()
        .find(|e| e["from"] == "katcore" && e["extra"] == "monitoring")
        .unwrap();
    assert_eq!(metrics["extras"], serde_json::json!(["metrics"]));
    assert_eq!(
        edge("katmisc", "typing-extensions")["marker"],
        "python_full_version < '3.12'"
    );
    assert_eq!(edge("katproxy", "uvloop")["extra"], "fast");
    assert_eq!(node("katproxy")["scripts"]["kat-proxy"], "katproxy.proxy:main");
    assert_eq!(node("numpy")["internal"], false);
    assert_eq!(node("numpy")["source"], serde_json::Value::Null);
}

#[test]
fn output_is_byte_identical_across_runs_and_input_spellings() {
    let first = scan_example().stdout;
    let second = run_in(&workspace(), &["examples/cam/"], None).success().stdout;
    assert_eq!(first, second);
    assert_eq!(first, scan_example().stdout);
}

#[test]
fn paths_can_come_from_stdin() {
    let out = run_in(
        &workspace(),
        &["-"],
        Some("examples/cam/katcp\nexamples/cam/katmisc\n"),
    )
    .success();
    let doc = out.json();
    let names: Vec<_> = doc["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        [
            "katcp",
            "katmisc",
            "prometheus-client",
            "setuptools",
            "typing-extensions"
        ]
    );
    assert_eq!(doc["leaves"], serde_json::json!(["katmisc"]));
}

#[test]
fn output_file_is_written_instead_of_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("graph.json");
    let out = run_in(
        &workspace(),
        &["examples/cam", "-o", target.to_str().unwrap()],
        None,
    )
    .success();
    assert_eq!(out.stdout, "");
    let written = std::fs::read_to_string(&target).unwrap();
    assert_eq!(written, scan_example().stdout);
}

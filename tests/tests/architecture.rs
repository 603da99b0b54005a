//! The architecture ARCHITECTURE.md describes, checked against the code: the library crates under
//! `core/` depend only on the layers below them and never on a tool; no tool depends on another;
//! every library crate says what it is for and what it must not depend on; no source file grows
//! past the size where it should be split; and the README and ARCHITECTURE.md name every crate.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each library crate and the lastmile crates it may depend on (the layers below it).
const LAYERS: &[(&str, &[&str])] = &[
    ("lastmile-fs", &[]),
    ("lastmile-process", &[]),
    ("lastmile-python", &["lastmile-fs"]),
    ("lastmile-settings", &["lastmile-fs"]),
    ("lastmile-dist", &["lastmile-fs", "lastmile-python"]),
    ("lastmile-documents", &["lastmile-fs", "lastmile-python"]),
    (
        "lastmile-project",
        &["lastmile-fs", "lastmile-python", "lastmile-process"],
    ),
    (
        "lastmile-index",
        &["lastmile-fs", "lastmile-python", "lastmile-dist"],
    ),
    // lastmile-index only with its `index` feature (the package-source flags).
    (
        "lastmile-cli",
        &["lastmile-fs", "lastmile-process", "lastmile-index"],
    ),
    ("lastmile-probe", &["lastmile-process"]),
    ("lastmile-debian", &["lastmile-fs", "lastmile-process"]),
    (
        "lastmile-image",
        &["lastmile-fs", "lastmile-documents", "lastmile-process"],
    ),
];

const TOOLS: &[&str] = &["depgraph", "pin-deps", "bake-image", "deploy-lxc", "aqf-run"];

/// Past this many lines a file should be split into a folder module (STYLE.md).
const MAX_LINES: usize = 500;

/// `package name -> (manifest folder, lastmile crates it depends on, normal dependencies only)`.
fn workspace() -> BTreeMap<String, (String, BTreeSet<String>)> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args(["metadata", "--no-deps", "--format-version", "1", "--offline"])
        .current_dir(lastmile_tests::workspace())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let members: BTreeSet<String> = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|package| {
            let deps = package["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["kind"].is_null())
                .map(|d| d["name"].as_str().unwrap().to_owned())
                .filter(|name| members.contains(name))
                .collect();
            let dir = Path::new(package["manifest_path"].as_str().unwrap())
                .parent()
                .unwrap()
                .display()
                .to_string();
            (package["name"].as_str().unwrap().to_owned(), (dir, deps))
        })
        .collect()
}

#[test]
fn libraries_depend_only_downwards_and_tools_never_on_each_other() {
    let crates = workspace();
    let layers: BTreeMap<&str, &[&str]> = LAYERS.iter().copied().collect();
    let mut problems = Vec::new();
    for (name, (dir, deps)) in &crates {
        if let Some(allowed) = layers.get(name.as_str()) {
            assert!(
                dir.contains("/core/"),
                "{name} is a library crate outside core/: {dir}"
            );
            for dep in deps {
                if !allowed.contains(&dep.as_str()) {
                    problems.push(format!("{name} depends on {dep}, which is not below it"));
                }
            }
        } else if TOOLS.contains(&name.as_str()) {
            for dep in deps {
                if !layers.contains_key(dep.as_str()) {
                    problems.push(format!(
                        "the tool {name} depends on {dep}, which is not a library crate"
                    ));
                }
            }
        } else {
            assert_eq!(
                name, "lastmile-tests",
                "a crate the layering does not know: {name}"
            );
        }
    }
    for (name, _) in LAYERS {
        assert!(
            crates.contains_key(*name),
            "{name} is in the layering but not in the workspace"
        );
    }
    assert_eq!(problems, Vec::<String>::new());
}

#[test]
fn every_library_says_what_it_is_for_and_what_it_must_not_depend_on() {
    for (name, (dir, _)) in workspace() {
        if !name.starts_with("lastmile-") || name == "lastmile-tests" {
            continue;
        }
        let lib = std::fs::read_to_string(Path::new(&dir).join("src/lib.rs")).unwrap();
        let doc: String = lib
            .lines()
            .take_while(|l| l.starts_with("//!"))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            doc.lines().count() >= 3,
            "{name}: lib.rs should open with what the crate is for"
        );
        assert!(
            doc.to_lowercase().contains("depend"),
            "{name}: lib.rs should say what the crate must not depend on"
        );
    }
}

#[test]
fn no_source_file_grows_past_the_size_to_split() {
    let root = lastmile_tests::workspace();
    let mut long = Vec::new();
    for top in [
        "core",
        "depgraph",
        "pin-deps",
        "bake-image",
        "deploy-lxc",
        "aqf-run",
        "tests",
    ] {
        for entry in walkdir::WalkDir::new(root.join(top)) {
            let entry = entry.unwrap();
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "rs")
                && !path.components().any(|c| c.as_os_str() == "target")
            {
                let lines = std::fs::read_to_string(path).unwrap().lines().count();
                if lines > MAX_LINES {
                    long.push(format!(
                        "{} ({lines} lines)",
                        path.strip_prefix(&root).unwrap().display()
                    ));
                }
            }
        }
    }
    assert_eq!(long, Vec::<String>::new(), "split these into folder modules");
}

#[test]
fn the_readme_and_the_architecture_page_name_every_crate() {
    let root = lastmile_tests::workspace();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let architecture = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    for (name, (dir, _)) in workspace() {
        if name == "lastmile-tests" {
            continue;
        }
        let folder = Path::new(&dir).strip_prefix(&root).unwrap().display().to_string();
        assert!(
            readme.contains(&format!("{folder}/")),
            "README.md's layout does not name {folder}/"
        );
        assert!(
            architecture.contains(&format!("`{folder}/`")) && architecture.contains(&name),
            "ARCHITECTURE.md does not describe {name} ({folder}/)"
        );
    }
}

/// The top-level modules of a tool crate (`src/NAME.rs` or `src/NAME/`), without the entry points.
fn modules(src: &Path) -> BTreeSet<String> {
    std::fs::read_dir(src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            let name = p.file_stem()?.to_str()?.to_owned();
            (p.is_dir() || p.extension().is_some_and(|e| e == "rs")).then_some(name)
        })
        .filter(|name| name != "lib" && name != "main")
        .collect()
}

/// Every `crate::NAME` a file refers to (also inside `use crate::{a, b::c}`).
fn crate_references(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let names: Vec<&str> = if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            group[..end].split(',').collect()
        } else {
            vec![rest]
        };
        for name in names {
            let word: String = name
                .trim()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !word.is_empty() {
                found.insert(word);
            }
        }
    }
    found
}

/// Inside each tool, modules import only modules (never what `lib.rs` defines: it is the entry,
/// on top) and no two modules import each other, directly or around a circle.
#[test]
fn inside_each_tool_the_entry_is_on_top_and_modules_form_no_circle() {
    let root = lastmile_tests::workspace();
    let mut problems = Vec::new();
    for tool in TOOLS {
        let src = root.join(tool).join("src");
        let modules = modules(&src);
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for entry in walkdir::WalkDir::new(&src) {
            let path = entry.unwrap().into_path();
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(&src).unwrap();
            let module = relative
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_string_lossy();
            let module = module.trim_end_matches(".rs").to_owned();
            if module == "lib" || module == "main" {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for name in crate_references(&text) {
                if modules.contains(&name) {
                    if name != module {
                        edges.entry(module.clone()).or_default().insert(name);
                    }
                } else {
                    problems.push(format!(
                        "{tool}: {} uses crate::{name}, which lib.rs defines: move it into a module of its own",
                        relative.display()
                    ));
                }
            }
        }
        if let Some(circle) = find_circle(&edges) {
            problems.push(format!(
                "{tool}: modules import each other: {}",
                circle.join(" -> ")
            ));
        }
    }
    assert_eq!(problems, Vec::<String>::new());
}

/// A circle in `edges`, if there is one, as the modules around it.
fn find_circle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut circle = path[start..].to_vec();
            circle.push(node.to_owned());
            return Some(circle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(circle) = visit(next, edges, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|node| visit(node, edges, &mut Vec::new(), &mut done))
}

//! The cases of a `cases = true` pytest test, as pytest itself collects them (`--collect-only`,
//! with the test's markers and arguments), where the test runs: on the host in the suite's venv,
//! or inside the first node it targets with the candidate's Python. aqf-run's plugin writes each
//! case's file (relative to the test's root: its folder, or the file's folder), its name within
//! the file, and the requirements its `@pytest.mark.requirement(...)` marks name.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lastmile_documents::deployment::DeployedNode;

use crate::context::{Context, NotRun};
use crate::plan::CollectedCase;
use crate::suite::{On, PytestTest};

/// The module name of aqf-run's pytest plugin.
pub const PLUGIN_MODULE: &str = "aqf_run_cases";

/// aqf-run's pytest plugin: the `requirement` marker registered (so `--strict-markers` accepts
/// it), and, when `AQF_RUN_CASES` names a file, the collected cases written there as JSON.
pub const PLUGIN: &str = r#""""aqf-run's pytest plugin: the requirement marker, and the cases collected."""
import json
import os


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "requirement(*ids): the requirements of the suite this test verifies (aqf-run)"
    )


def pytest_collection_finish(session):
    out = os.environ.get("AQF_RUN_CASES")
    if not out:
        return
    root = os.environ["AQF_RUN_ROOT"]
    cases = []
    for item in session.items:
        path = str(getattr(item, "path", None) or item.fspath)
        cases.append({
            "file": os.path.relpath(path, root),
            "name": item.nodeid.split("::", 1)[1] if "::" in item.nodeid else "",
            "requirements": [str(a) for m in item.iter_markers("requirement") for a in m.args],
        })
    with open(out, "w") as f:
        json.dump(cases, f)
"#;

/// The folder the host's cases are relative to: the test's folder, or the test file's folder.
pub fn host_root(test: &PytestTest) -> PathBuf {
    if test.path.is_dir() {
        test.path.clone()
    } else {
        test.path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
    }
}

/// The folder holding the plugin, written on first use (atomically: attempts run at once).
pub fn plugin_dir(ctx: &Context) -> Result<PathBuf, NotRun> {
    let dir = ctx.out_dir.join("pytest").join("plugin");
    let file = dir.join(format!("{PLUGIN_MODULE}.py"));
    if !file.exists() {
        std::fs::create_dir_all(&dir)
            .and_then(|()| lastmile_fs::write_atomic(&file, PLUGIN.as_bytes()))
            .map_err(|e| NotRun(format!("writing {}: {e}", file.display())))?;
    }
    Ok(dir)
}

/// The cases of `test`, collected where it runs (`node`: the first node its group targets).
pub fn collect(
    ctx: &Context,
    test: &PytestTest,
    node: Option<&DeployedNode>,
    limit: Duration,
) -> Result<Vec<CollectedCase>, NotRun> {
    let (ran, json) = match (test.on, node) {
        (On::Host, node) => {
            let out = ctx.out_dir.join("pytest").join(format!(
                "cases-{}.json",
                lastmile_fs::Sha256::of(test.path.as_os_str().as_encoded_bytes()).short(12)
            ));
            let _ = std::fs::remove_file(&out);
            let mut command = super::host_python(ctx, test)?;
            command
                .args(super::arguments(test, &test.path.display().to_string(), None))
                .envs(ctx.variables(node))
                .env("AQF_RUN_CASES", &out)
                .env("AQF_RUN_ROOT", host_root(test));
            let ran = lastmile_probe::run(&mut command, None, limit)?;
            (ran, lastmile_fs::read_text(&out).ok())
        }
        (On::Node, None) => {
            return Err(NotRun("on = \"node\" in a group that targets no node".into()));
        }
        (On::Node, Some(node)) => super::in_node_with(ctx, test, node, limit, |dir, inside| {
            (
                super::arguments(test, &format!("{dir}/{inside}"), None),
                vec![
                    format!("AQF_RUN_CASES={dir}/cases.json"),
                    format!("AQF_RUN_ROOT={dir}/tests"),
                ],
                format!("{dir}/cases.json"),
            )
        })?,
    };
    let said = || {
        [&ran.stderr, &ran.stdout]
            .iter()
            .find_map(|t| t.lines().rev().find(|l| !l.trim().is_empty()).map(str::to_owned))
            .unwrap_or_default()
    };
    let Some(json) = json.filter(|_| ran.code == Some(0)) else {
        return Err(NotRun(format!(
            "pytest --collect-only {} did not collect its cases (exit status {}): {}",
            test.path.display(),
            ran.code
                .map_or_else(|| "none: killed".to_owned(), |c| c.to_string()),
            said()
        )));
    };
    let cases: Vec<CollectedCase> = serde_json::from_str(&json)
        .map_err(|e| NotRun(format!("reading the cases pytest collected: {e}")))?;
    if cases.is_empty() {
        return Err(NotRun(format!(
            "pytest collected no case of {}",
            test.path.display()
        )));
    }
    Ok(cases)
}

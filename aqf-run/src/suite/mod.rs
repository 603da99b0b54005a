//! Acceptance suites (TOML): groups of tests, each group aimed at nodes or roles, each test one of
//! the kinds below, with its time limit, retries, tags and the requirements it verifies.
//!
//! ```toml
//! name = "cam"
//! [requirements]
//! CAM-R-101 = "Each role's services run on its nodes and nowhere else"
//!
//! [groups.monctl]
//! roles = ["monctl"]
//!
//! [[groups.monctl.tests]]
//! name = "proxy answers"
//! kind = "port"
//! port = 7150
//! verifies = ["CAM-R-101"]
//! ```

mod kinds;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lastmile_documents::settings::{from_toml, locate};
use lastmile_fs::{InputError, Sha256};
use serde::Deserialize;

pub use kinds::{Kind, On};

/// A checked suite file.
#[derive(Debug, Clone)]
pub struct Suite {
    pub file: String,
    /// The folder relative paths in the suite are taken from.
    pub dir: PathBuf,
    pub sha256: Sha256,
    pub name: String,
    pub requirements: BTreeMap<String, String>,
    pub groups: Vec<Group>,
}

#[derive(Debug, Clone)]
pub struct Group {
    pub name: String,
    /// Node names and roles the group's tests run on; both empty: once, on the host.
    pub nodes: Vec<String>,
    pub roles: Vec<String>,
    pub tests: Vec<Test>,
}

#[derive(Debug, Clone)]
pub struct Test {
    pub name: String,
    pub kind: Kind,
    pub timeout: Duration,
    pub retries: u32,
    pub required: bool,
    pub tags: Vec<String>,
    pub verifies: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSuite {
    name: String,
    #[serde(default)]
    requirements: BTreeMap<String, String>,
    #[serde(default)]
    groups: BTreeMap<String, RawGroup>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    #[serde(default)]
    nodes: Vec<String>,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    tests: Vec<RawTest>,
}

/// A test: the fields every kind has, and the kind's own (checked by [`kinds`]).
#[derive(Deserialize)]
struct RawTest {
    name: String,
    timeout: Option<String>,
    #[serde(default)]
    retries: u32,
    #[serde(default = "yes")]
    required: bool,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    verifies: Vec<String>,
    kind: String,
    #[serde(flatten)]
    fields: BTreeMap<String, toml::Value>,
}

fn yes() -> bool {
    true
}

/// Read and check a suite file.
pub fn load(path: &Path) -> anyhow::Result<Suite> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
    let text = String::from_utf8(bytes.clone()).map_err(|_| anyhow::anyhow!("{file}: not UTF-8"))?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut suite = parse(&text, &file, &dir)?;
    suite.sha256 = Sha256::of(&bytes);
    Ok(suite)
}

/// Check a suite's text; errors name the file, line and key.
pub fn parse(text: &str, file: &str, dir: &Path) -> Result<Suite, InputError> {
    let raw: RawSuite = from_toml(text, file)?;
    let mut groups = Vec::new();
    for (group_name, raw_group) in raw.groups {
        let table = format!("groups.{group_name}");
        let mut tests = Vec::new();
        let mut names = std::collections::BTreeSet::new();
        for raw_test in raw_group.tests {
            let at = |key: &str, message: String| {
                let location = test_location(text, file, &table, &raw_test.name, key);
                InputError::new(
                    location,
                    format!("{table}.tests.{key} ({}): {message}", raw_test.name),
                )
            };
            if raw_test.name.trim().is_empty() || raw_test.name.contains(['/', '@']) {
                return Err(at("name", "a test name is not empty and holds no / or @".into()));
            }
            if !names.insert(raw_test.name.clone()) {
                return Err(at(
                    "name",
                    format!("the group already has a test named {:?}", raw_test.name),
                ));
            }
            let timeout = match &raw_test.timeout {
                None => Duration::from_secs(60),
                Some(text) => lastmile_documents::settings::parse_duration(text).ok_or_else(|| {
                    at(
                        "timeout",
                        format!("{text:?}: expected a duration such as 30s, 2m or 500ms"),
                    )
                })?,
            };
            for id in &raw_test.verifies {
                if !raw.requirements.contains_key(id) && !raw.requirements.is_empty() {
                    return Err(at("verifies", format!("{id:?} is not one of [requirements]")));
                }
            }
            let kind = kinds::check(&raw_test.kind, &raw_test.fields, dir)
                .map_err(|(key, message)| at(&key, message))?;
            let mut tags = raw_group.tags.clone();
            tags.extend(raw_test.tags);
            tags.sort();
            tags.dedup();
            tests.push(Test {
                name: raw_test.name,
                kind,
                timeout,
                retries: raw_test.retries,
                required: raw_test.required,
                tags,
                verifies: raw_test.verifies,
            });
        }
        if tests.is_empty() {
            return Err(InputError::new(
                locate(text, file, &table, None),
                format!("{table}: no [[{table}.tests]]"),
            ));
        }
        groups.push(Group {
            name: group_name,
            nodes: raw_group.nodes,
            roles: raw_group.roles,
            tests,
        });
    }
    if groups.is_empty() {
        return Err(InputError::new(
            lastmile_fs::Location::file(file),
            "no [groups.NAME] with tests",
        ));
    }
    Ok(Suite {
        file: file.to_owned(),
        dir: dir.to_owned(),
        sha256: Sha256::of(text),
        name: raw.name,
        requirements: raw.requirements,
        groups,
    })
}

/// The line of a test's key: the `name = "..."` line of that test, then the key after it.
fn test_location(text: &str, file: &str, table: &str, name: &str, key: &str) -> lastmile_fs::Location {
    let header = format!("[[{table}.tests]]");
    let mut in_group = false;
    let mut in_test = false;
    let mut test_line = None;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            if in_test && test_line.is_some() {
                break;
            }
            in_group = trimmed == header;
            in_test = false;
            continue;
        }
        if !in_group {
            continue;
        }
        let Some((k, v)) = trimmed.split_once('=') else {
            continue;
        };
        let k = k.trim();
        if k == "name" && v.trim().trim_matches(['"', '\'']) == name {
            in_test = true;
            test_line = Some(index + 1);
            if key == "name" {
                break;
            }
        } else if in_test && k == key {
            return lastmile_fs::Location::line(file, index + 1);
        }
    }
    match test_line {
        Some(line) => lastmile_fs::Location::line(file, line),
        None => locate(text, file, table, None),
    }
}

#[cfg(test)]
mod tests;

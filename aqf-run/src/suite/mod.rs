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

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use lastmile_fs::{InputError, Sha256};
use lastmile_settings::{SettingsFile, Spanned, Table};
use serde::Deserialize;

pub use kinds::{
    CommandTest, DebTest, FileTest, HttpTest, Kind, Mode, On, PackageTest, Pattern, Port, PortTest,
    ProcessTest, PytestTest, ServiceTest, Status, UnitState,
};

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
    /// Why the suite's `[quarantine]` holds it: it runs and is reported in a section of its own,
    /// and it is never required.
    pub quarantined: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSuite {
    name: String,
    #[serde(default)]
    requirements: BTreeMap<String, String>,
    #[serde(default)]
    groups: BTreeMap<String, Spanned<RawGroup>>,
    /// `"GROUP/TEST" = "why"`: known-flaky tests, reviewed like code.
    #[serde(default)]
    quarantine: BTreeMap<String, Spanned<String>>,
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
    tests: Vec<Spanned<Table>>,
}

/// The fields every kind of test has.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Common {
    name: String,
    timeout: Option<lastmile_settings::Duration>,
    #[serde(default, deserialize_with = "retries")]
    retries: u32,
    #[serde(default = "yes")]
    required: bool,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    verifies: Vec<String>,
}

fn yes() -> bool {
    true
}

/// Read and check a suite file.
pub fn load(path: &Path) -> Result<Suite, InputError> {
    let file = lastmile_settings::load(path)?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    read(&file, &dir)
}

/// Check a suite's text; errors name the file, line and key.
pub fn parse(text: &str, file: &str, dir: &Path) -> Result<Suite, InputError> {
    read(&SettingsFile::new(file, text), dir)
}

/// A test is tried at most 1 + 10 times: a flaky test needs fixing, not a hundred tries.
fn retries<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let retries = lastmile_settings::integer_in(deserializer, "a number of retries", 0..=10)?;
    Ok(u32::try_from(retries).expect("in range"))
}

fn read(file: &SettingsFile, dir: &Path) -> Result<Suite, InputError> {
    let raw: RawSuite = file.parse()?;
    let mut groups = Vec::new();
    for (name, group) in &raw.groups {
        groups.push(read_group(file, dir, &raw.requirements, name, group)?);
    }
    if groups.is_empty() {
        return Err(file.error_in_file("no [groups.NAME] with tests"));
    }
    quarantine(file, &raw.quarantine, &mut groups)?;
    Ok(Suite {
        file: file.name().to_owned(),
        dir: dir.to_owned(),
        sha256: Sha256::of(file.text()),
        name: raw.name,
        requirements: raw.requirements,
        groups,
    })
}

/// Mark the tests `[quarantine]` names. A name that is no test of the suite is refused (a typo
/// would quarantine nothing), and so is a required test: quarantine never hides what gates a
/// promotion.
fn quarantine(
    file: &SettingsFile,
    quarantine: &BTreeMap<String, Spanned<String>>,
    groups: &mut [Group],
) -> Result<(), InputError> {
    for (path, reason) in quarantine {
        let at = |message: String| file.error(reason.span(), format!("quarantine.\"{path}\": {message}"));
        let test = path.split_once('/').and_then(|(group, test)| {
            groups
                .iter_mut()
                .find(|g| g.name == group)
                .and_then(|g| g.tests.iter_mut().find(|t| t.name == test))
        });
        let Some(test) = test else {
            return Err(at("no test of the suite is GROUP/TEST so named".to_owned()));
        };
        if test.required {
            return Err(at(format!(
                "{path} is required; a required test is never quarantined (set required = false on it first, in review)"
            )));
        }
        if reason.get_ref().trim().is_empty() {
            return Err(at("say why it is quarantined".to_owned()));
        }
        test.quarantined = Some(reason.get_ref().clone());
    }
    Ok(())
}

fn read_group(
    file: &SettingsFile,
    dir: &Path,
    requirements: &BTreeMap<String, String>,
    name: &str,
    raw: &Spanned<RawGroup>,
) -> Result<Group, InputError> {
    let path = format!("groups.{name}.tests");
    let mut tests = Vec::new();
    let mut names = BTreeSet::new();
    for table in &raw.get_ref().tests {
        let test = read_test(file, dir, requirements, &path, table)?;
        if !names.insert(test.name.clone()) {
            return Err(file.error_at(
                table,
                format!("{path}.name: the group already has a test named {:?}", test.name),
            ));
        }
        let mut tags = raw.get_ref().tags.clone();
        tags.extend(test.tags);
        tags.sort();
        tags.dedup();
        tests.push(Test { tags, ..test });
    }
    if tests.is_empty() {
        return Err(file.error_at(raw, format!("groups.{name}: no [[{path}]]")));
    }
    Ok(Group {
        name: name.to_owned(),
        nodes: raw.get_ref().nodes.clone(),
        roles: raw.get_ref().roles.clone(),
        tests,
    })
}

fn read_test(
    file: &SettingsFile,
    dir: &Path,
    requirements: &BTreeMap<String, String>,
    path: &str,
    table: &Spanned<Table>,
) -> Result<Test, InputError> {
    let label = table.get_ref().str("name");
    let (common, mut kind): (Common, Kind) = file.tagged(table, "kind", path, label)?;
    let at = |key: &str, message: String| {
        let span = table.get_ref().0.get(key).map_or(table.span(), Spanned::span);
        file.error(span, format!("{path}.{key} ({}): {message}", common.name))
    };
    if common.name.trim().is_empty() || common.name.contains(['/', '@']) {
        return Err(at("name", "a test name is not empty and holds no / or @".into()));
    }
    if let Some(id) = common
        .verifies
        .iter()
        .find(|id| !requirements.is_empty() && !requirements.contains_key(*id))
    {
        return Err(at("verifies", format!("{id:?} is not one of [requirements]")));
    }
    kind.resolve(dir);
    Ok(Test {
        name: common.name,
        kind,
        timeout: common.timeout.map_or(Duration::from_secs(60), |t| t.0),
        retries: common.retries,
        required: common.required,
        tags: common.tags,
        verifies: common.verifies,
        quarantined: None,
    })
}

#[cfg(test)]
mod tests;

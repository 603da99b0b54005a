//! The kinds of test and the fields each takes: `command`, `pytest`, and the built-in checks of a
//! node (`package`, `deb`, `service`, `process`, `port`, `file`, `http`), in the spirit of testinfra and
//! goss. Each kind is a struct serde reads with `deny_unknown_fields`; `kind = "port"` picks it.

use std::path::{Path, PathBuf};

use regex::Regex;
use serde::{Deserialize, Deserializer};

/// Where a command or pytest runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum On {
    /// On this host, with the nodes' addresses in `LASTMILE_*` variables.
    Host,
    /// Inside the target node, through its exec command.
    Node,
}

/// A test's kind, with its own fields.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Command(CommandTest),
    Pytest(PytestTest),
    Package(PackageTest),
    Deb(DebTest),
    Service(ServiceTest),
    Process(ProcessTest),
    Port(PortTest),
    File(FileTest),
    Http(HttpTest),
}

/// `run` (through `sh -c`), expected `exit` status, `stdout`/`stderr` patterns.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandTest {
    pub run: String,
    #[serde(default = "on_node")]
    pub on: On,
    #[serde(default, deserialize_with = "exit_status")]
    pub exit: u8,
    pub stdout: Option<Pattern>,
    pub stderr: Option<Pattern>,
}

/// pytest on `path`, in a venv made from `requirements` (host), with `markers` and `args`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PytestTest {
    /// Relative to the suite file's folder.
    pub path: PathBuf,
    #[serde(default = "on_host")]
    pub on: On,
    pub requirements: Option<PathBuf>,
    pub markers: Option<String>,
    #[serde(default)]
    pub args: Vec<String>,
    /// Each case pytest collects is a test of its own: retried, timed, partitioned and reported
    /// on its own, verifying what its `@pytest.mark.requirement(ID)` marks name too.
    #[serde(default)]
    pub cases: bool,
}

/// A distribution installed in the candidate's venv, at `version` or else the version the
/// candidate's manifest pins.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageTest {
    pub package: String,
    pub version: Option<String>,
}

/// A Debian package installed in the node, at `version` or else the version the candidate's OS
/// lock locks (its manifest's `base.lock`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DebTest {
    pub package: String,
    pub version: Option<String>,
}

/// A systemd unit in `state` (`active` by default, or `inactive`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceTest {
    pub unit: String,
    #[serde(default)]
    pub state: UnitState,
}

/// The state a `service` test expects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnitState {
    #[default]
    Active,
    Inactive,
}

/// A process whose command line matches `process` is (or is not) running.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessTest {
    #[serde(rename = "process")]
    pub pattern: Pattern,
    #[serde(default = "yes")]
    pub running: bool,
}

/// Something listens (or nothing does) on `port` at the node's address.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortTest {
    pub port: Port,
    #[serde(default = "yes")]
    pub listening: bool,
}

/// A file exists (or not) with `mode`, `owner` and contents matching `contains`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileTest {
    pub path: String,
    #[serde(default = "yes")]
    pub exists: bool,
    pub mode: Option<Mode>,
    pub owner: Option<String>,
    pub contains: Option<Pattern>,
}

/// A GET of `url` (`{address}` is the node's) answers `status` with a body matching `body`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpTest {
    pub url: HttpUrl,
    #[serde(default)]
    pub status: Status,
    pub body: Option<Pattern>,
}

impl Kind {
    pub fn word(&self) -> &'static str {
        match self {
            Kind::Command(_) => "command",
            Kind::Pytest(_) => "pytest",
            Kind::Package(_) => "package",
            Kind::Deb(_) => "deb",
            Kind::Service(_) => "service",
            Kind::Process(_) => "process",
            Kind::Port(_) => "port",
            Kind::File(_) => "file",
            Kind::Http(_) => "http",
        }
    }

    /// Paths in the suite are relative to its folder.
    pub(super) fn resolve(&mut self, dir: &Path) {
        if let Kind::Pytest(test) = self {
            test.path = dir.join(&test.path);
            test.requirements = test.requirements.as_ref().map(|r| dir.join(r));
        }
    }
}

fn exit_status<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u8, D::Error> {
    let status = lastmile_settings::integer_in(deserializer, "an exit status", 0..=255)?;
    Ok(u8::try_from(status).expect("in range"))
}

fn on_node() -> On {
    On::Node
}
fn on_host() -> On {
    On::Host
}
fn yes() -> bool {
    true
}

/// A regular expression, compiled when the suite is read (bounded in size).
#[derive(Debug, Clone)]
pub struct Pattern(pub Regex);

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        regex::RegexBuilder::new(&text)
            .size_limit(1 << 20)
            .build()
            .map(Pattern)
            .map_err(|e| serde::de::Error::custom(format!("not a valid pattern: {e}")))
    }
}

impl std::fmt::Display for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.as_str())
    }
}

/// A TCP port, 1 to 65535.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Port(pub u16);

impl<'de> Deserialize<'de> for Port {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let port = lastmile_settings::integer_in(deserializer, "a port", 1..=65535)?;
        Ok(Port(u16::try_from(port).expect("in range")))
    }
}

/// A file mode written in octal, as a string: `"0644"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mode(pub u32);

impl<'de> Deserialize<'de> for Mode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        u32::from_str_radix(&text, 8)
            .ok()
            .filter(|m| *m <= 0o7777)
            .map(Mode)
            .ok_or_else(|| serde::de::Error::custom(format!("{text:?}: an octal mode such as \"0644\"")))
    }
}

/// An HTTP status a test expects: 100 to 599 (200 by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status(pub u16);

impl Default for Status {
    fn default() -> Self {
        Status(200)
    }
}

impl<'de> Deserialize<'de> for Status {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let status = lastmile_settings::integer_in(deserializer, "an HTTP status", 100..=599)?;
        Ok(Status(u16::try_from(status).expect("in range")))
    }
}

/// `http://{address}:PORT/PATH`: the URL of an `http` test, before its placeholders are filled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl(pub String);

impl<'de> Deserialize<'de> for HttpUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let url = String::deserialize(deserializer)?;
        if !url.starts_with("http://") {
            return Err(serde::de::Error::custom(format!(
                "{url:?}: expected http://{{address}}:PORT/PATH"
            )));
        }
        Ok(HttpUrl(url))
    }
}

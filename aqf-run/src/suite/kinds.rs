//! The kinds of test and the fields each takes: `command`, `pytest`, and the built-in checks of a
//! node (`package`, `service`, `process`, `port`, `file`, `http`), in the spirit of testinfra and
//! goss.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use regex::Regex;

/// Where a command or pytest runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum On {
    /// On this host, with the nodes' addresses in `LASTMILE_*` variables.
    Host,
    /// Inside the target node, through its exec command.
    Node,
}

#[derive(Debug, Clone)]
pub enum Kind {
    /// `run` (through `sh -c`), expected `exit` status, `stdout`/`stderr` patterns.
    Command {
        run: String,
        on: On,
        exit: i32,
        stdout: Option<Regex>,
        stderr: Option<Regex>,
    },
    /// pytest on `path`, in a venv made from `requirements` (host), with `markers` and `args`.
    Pytest {
        path: PathBuf,
        on: On,
        requirements: Option<PathBuf>,
        markers: Option<String>,
        args: Vec<String>,
    },
    /// A distribution installed in the candidate's venv, at `version` or else the version the
    /// candidate's manifest pins.
    Package {
        package: String,
        version: Option<String>,
    },
    /// A systemd unit in `state` (`active` by default, or `inactive`).
    Service { unit: String, state: String },
    /// A process whose command line matches `process` is (or is not) running.
    Process { pattern: Regex, running: bool },
    /// Something listens (or nothing does) on `port` at the node's address.
    Port { port: u16, listening: bool },
    /// A file exists (or not) with `mode`, `owner` and contents matching `contains`.
    File {
        path: String,
        exists: bool,
        mode: Option<u32>,
        owner: Option<String>,
        contains: Option<Regex>,
    },
    /// A GET of `url` (`{address}` is the node's) answers `status` with a body matching `body`.
    Http {
        url: String,
        status: u16,
        body: Option<Regex>,
    },
}

impl Kind {
    pub fn word(&self) -> &'static str {
        match self {
            Kind::Command { .. } => "command",
            Kind::Pytest { .. } => "pytest",
            Kind::Package { .. } => "package",
            Kind::Service { .. } => "service",
            Kind::Process { .. } => "process",
            Kind::Port { .. } => "port",
            Kind::File { .. } => "file",
            Kind::Http { .. } => "http",
        }
    }
}

type Fields = BTreeMap<String, toml::Value>;
type Refusal = (String, String);

/// The kind named `kind` from its fields; refuses a missing field, a field of another kind and
/// a value of the wrong type, naming the key.
pub(super) fn check(kind: &str, fields: &Fields, dir: &Path) -> Result<Kind, Refusal> {
    let allowed: &[&str] = match kind {
        "command" => &["run", "on", "exit", "stdout", "stderr"],
        "pytest" => &["path", "on", "requirements", "markers", "args"],
        "package" => &["package", "version"],
        "service" => &["unit", "state"],
        "process" => &["process", "running"],
        "port" => &["port", "listening"],
        "file" => &["path", "exists", "mode", "owner", "contains"],
        "http" => &["url", "status", "body"],
        _ => {
            return Err((
                "kind".into(),
                format!("{kind:?}: expected command, pytest, package, service, process, port, file or http"),
            ));
        }
    };
    for key in fields.keys() {
        if !allowed.contains(&key.as_str()) {
            return Err((
                key.clone(),
                format!("not a field of a {kind} test (it takes {})", allowed.join(", ")),
            ));
        }
    }
    let get = Getter { fields };
    Ok(match kind {
        "command" => Kind::Command {
            run: get.string("run")?.ok_or_else(|| missing("run"))?,
            on: get.on(On::Node)?,
            exit: get.integer("exit")?.unwrap_or(0) as i32,
            stdout: get.regex("stdout")?,
            stderr: get.regex("stderr")?,
        },
        "pytest" => Kind::Pytest {
            path: dir.join(get.string("path")?.ok_or_else(|| missing("path"))?),
            on: get.on(On::Host)?,
            requirements: get.string("requirements")?.map(|r| dir.join(r)),
            markers: get.string("markers")?,
            args: get.strings("args")?,
        },
        "package" => Kind::Package {
            package: get.string("package")?.ok_or_else(|| missing("package"))?,
            version: get.string("version")?,
        },
        "service" => {
            let state = get.string("state")?.unwrap_or_else(|| "active".into());
            if !matches!(state.as_str(), "active" | "inactive") {
                return Err(("state".into(), format!("{state:?}: expected active or inactive")));
            }
            Kind::Service {
                unit: get.string("unit")?.ok_or_else(|| missing("unit"))?,
                state,
            }
        }
        "process" => Kind::Process {
            pattern: get.regex("process")?.ok_or_else(|| missing("process"))?,
            running: get.boolean("running")?.unwrap_or(true),
        },
        "port" => {
            let port = get.integer("port")?.ok_or_else(|| missing("port"))?;
            Kind::Port {
                port: u16::try_from(port)
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| ("port".to_owned(), format!("{port}: 1 to 65535")))?,
                listening: get.boolean("listening")?.unwrap_or(true),
            }
        }
        "file" => {
            let mode = match get.string("mode")? {
                None => None,
                Some(text) => Some(u32::from_str_radix(&text, 8).map_err(|_| {
                    (
                        "mode".to_owned(),
                        format!("{text:?}: an octal mode such as \"0644\""),
                    )
                })?),
            };
            Kind::File {
                path: get.string("path")?.ok_or_else(|| missing("path"))?,
                exists: get.boolean("exists")?.unwrap_or(true),
                mode,
                owner: get.string("owner")?,
                contains: get.regex("contains")?,
            }
        }
        _ => {
            let url = get.string("url")?.ok_or_else(|| missing("url"))?;
            if !url.starts_with("http://") {
                return Err((
                    "url".into(),
                    format!("{url:?}: expected http://{{address}}:PORT/PATH"),
                ));
            }
            Kind::Http {
                url,
                status: get.integer("status")?.unwrap_or(200) as u16,
                body: get.regex("body")?,
            }
        }
    })
}

fn missing(key: &str) -> Refusal {
    (key.to_owned(), "missing".to_owned())
}

struct Getter<'a> {
    fields: &'a Fields,
}

impl Getter<'_> {
    fn string(&self, key: &str) -> Result<Option<String>, Refusal> {
        match self.fields.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err((
                key.to_owned(),
                format!("expected a string, found {}", other.type_str()),
            )),
        }
    }

    fn integer(&self, key: &str) -> Result<Option<i64>, Refusal> {
        match self.fields.get(key) {
            None => Ok(None),
            Some(toml::Value::Integer(n)) => Ok(Some(*n)),
            Some(other) => Err((
                key.to_owned(),
                format!("expected an integer, found {}", other.type_str()),
            )),
        }
    }

    fn boolean(&self, key: &str) -> Result<Option<bool>, Refusal> {
        match self.fields.get(key) {
            None => Ok(None),
            Some(toml::Value::Boolean(b)) => Ok(Some(*b)),
            Some(other) => Err((
                key.to_owned(),
                format!("expected true or false, found {}", other.type_str()),
            )),
        }
    }

    fn strings(&self, key: &str) -> Result<Vec<String>, Refusal> {
        match self.fields.get(key) {
            None => Ok(Vec::new()),
            Some(toml::Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| (key.to_owned(), "expected strings".to_owned()))
                })
                .collect(),
            Some(other) => Err((
                key.to_owned(),
                format!("expected a list of strings, found {}", other.type_str()),
            )),
        }
    }

    fn regex(&self, key: &str) -> Result<Option<Regex>, Refusal> {
        self.string(key)?
            .map(|text| {
                regex::RegexBuilder::new(&text)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| (key.to_owned(), format!("not a valid pattern: {e}")))
            })
            .transpose()
    }

    fn on(&self, default: On) -> Result<On, Refusal> {
        match self.string("on")?.as_deref() {
            None => Ok(default),
            Some("node") => Ok(On::Node),
            Some("host") => Ok(On::Host),
            Some(other) => Err(("on".into(), format!("{other:?}: expected \"host\" or \"node\""))),
        }
    }
}

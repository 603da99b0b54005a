//! The `lastmile.candidate/v1` document: one baked release candidate. bake-image prints it (and
//! writes it without the `image` part to `/etc/lastmile/candidate.json` inside the image);
//! deploy-lxc and aqf-run read it to know which digest they deploy, test and promote.

use std::collections::BTreeMap;

use lastmile_fs::Sha256;
use serde::{Deserialize, Serialize};

pub const SCHEMA: &str = "lastmile.candidate/v1";

/// Where bake-image writes the candidate document inside the image (without its `image` part),
/// relative to the image's root.
pub const CANDIDATE_PATH: &str = "etc/lastmile/candidate.json";

/// The name of an image file: `autobuild-` and the first 12 hex digits of its sha256, `.tar.gz`.
/// Its SBOM and provenance sit beside it under the same stem.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ImageName {
    /// The 12 lower-case hex digits.
    short: String,
}

impl ImageName {
    const PREFIX: &'static str = "autobuild-";
    const SUFFIX: &'static str = ".tar.gz";

    /// The name of the image whose sha256 is `digest`.
    pub fn of(digest: &Sha256) -> Self {
        Self {
            short: digest.short(12).to_owned(),
        }
    }

    /// The 12 hex digits of the sha256 the name carries.
    pub fn short(&self) -> &str {
        &self.short
    }

    /// Whether the image named so can be the one whose sha256 is `digest`.
    pub fn matches(&self, digest: &Sha256) -> bool {
        digest.short(12) == self.short
    }

    /// `autobuild-<12 hex>.sbom.cdx.json`: the CycloneDX SBOM beside the image.
    pub fn sbom(&self) -> String {
        format!("{}{}.sbom.cdx.json", Self::PREFIX, self.short)
    }

    /// `autobuild-<12 hex>.provenance.json`: the in-toto statement beside the image.
    pub fn provenance(&self) -> String {
        format!("{}{}.provenance.json", Self::PREFIX, self.short)
    }
}

impl std::fmt::Display for ImageName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}{}", Self::PREFIX, self.short, Self::SUFFIX)
    }
}

/// A file name that is not `autobuild-<12 hex>.tar.gz`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an image name (autobuild-<12 hex digits>.tar.gz)")]
pub struct ImageNameError(String);

impl std::str::FromStr for ImageName {
    type Err = ImageNameError;

    fn from_str(name: &str) -> Result<Self, ImageNameError> {
        let short = name
            .strip_prefix(Self::PREFIX)
            .and_then(|rest| rest.strip_suffix(Self::SUFFIX))
            .filter(|short| {
                short.len() == 12
                    && short
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            })
            .ok_or_else(|| ImageNameError(name.to_owned()))?;
        Ok(Self {
            short: short.to_owned(),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CandidateDocument {
    pub schema: String,
    /// The image file; absent in the manifest inside the image (a file cannot hold its own hash).
    pub image: Option<ImageInfo>,
    pub base: BaseInfo,
    pub target: TargetInfo,
    /// Where the virtual environment is inside the image.
    pub prefix: String,
    /// Installed distributions, sorted by name.
    pub packages: Vec<CandidatePackage>,
    /// The system's long-running services: one systemd unit each, by unit name.
    pub services: BTreeMap<String, Service>,
    /// Source repositories and the commits they were built from.
    pub source_commits: BTreeMap<String, String>,
    /// sha256 of every input that shaped the bytes, by role and position (never by path, so a
    /// bake from another folder gives the same bytes): `pinned`, `overlay:1`, `overlay:2`, ...
    pub inputs: BTreeMap<String, Sha256>,
    pub source_date_epoch: u64,
    /// `bake-image 0.1.0`.
    pub tool: String,
    /// How the archive was compressed (`gzip level 6, 1024 KiB members, flate2 (zlib-rs)`).
    pub compression: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageInfo {
    pub path: String,
    pub sha256: Sha256,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseInfo {
    /// sha256 of the base tarball, or of the base folder's tree (paths, modes, owners, contents).
    pub digest: Sha256,
    /// `debian 12 (bookworm)` from the base's os-release.
    pub os: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetInfo {
    pub python: String,
    pub platform: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CandidatePackage {
    pub name: String,
    pub version: String,
    pub filename: String,
    pub sha256: Sha256,
    /// Console scripts it installed into the venv's `bin/`.
    pub scripts: Vec<String>,
    /// sha256 of the distribution's `RECORD` as installed, which holds the hash of every file it
    /// installed: manifest → RECORD → files is the chain `bake-image verify` checks.
    pub record_sha256: Sha256,
}

/// A long-running service of the system, run by systemd as `NAME.service`.
///
/// A service without roles starts on every node (`multi-user.target` wants it). A service with
/// roles is wanted by `lastmile-role-ROLE.target` for each; the image enables no role, and
/// deploy-lxc enables a node's roles by linking their targets into `multi-user.target.wants`
/// before the node's first boot. The image stays the same for every node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// A console script of the venv with its arguments, or an absolute path.
    pub command: String,
    /// The node roles that run it; empty: every node.
    #[serde(default)]
    pub roles: Vec<String>,
    /// How to tell it is serving: `tcp:PORT` or `http://127.0.0.1:PORT/PATH` (on the node);
    /// none: systemd says it is active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Services of other roles it waits for before it starts: `ROLE:PORT`, something on a node
    /// of ROLE accepting TCP on PORT (the order across nodes systemd cannot give).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wait_for: Vec<WaitFor>,
}

/// `ROLE:PORT`: wait until a node of ROLE accepts TCP connections on PORT.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WaitFor {
    pub role: String,
    pub port: u16,
}

impl std::str::FromStr for WaitFor {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("{text:?}: expected ROLE:PORT (a role and a TCP port from 1 to 65535)");
        let (role, port) = text.split_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        if port == 0 || !valid_role(role) {
            return Err(bad());
        }
        Ok(Self {
            role: role.to_owned(),
            port,
        })
    }
}

impl std::fmt::Display for WaitFor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.role, self.port)
    }
}

impl Serialize for WaitFor {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for WaitFor {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A service's readiness check, as written in `Service::health`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// systemd says the unit is active (`systemctl is-active`): a service without a check.
    Active,
    /// Something accepts TCP connections on this port of the node.
    Tcp(u16),
    /// A GET of this URL's port and path on the node answers 2xx.
    Http(HttpCheck),
}

/// `http://HOST:PORT/PATH`: HOST is where the service binds inside the node; the check goes to
/// the node's address at PORT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpCheck {
    /// As written (what the manifest records).
    url: String,
    port: u16,
    /// The path and query, percent-encoded as a request line carries them.
    path: String,
}

impl HttpCheck {
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn path(&self) -> &str {
        &self.path
    }
}

/// A health check that is not `tcp:PORT` or `http://HOST:PORT/PATH`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?}: {reason}")]
pub struct HealthError {
    text: String,
    reason: &'static str,
}

impl std::str::FromStr for Health {
    type Err = HealthError;

    fn from_str(text: &str) -> Result<Self, HealthError> {
        let error = |reason| HealthError {
            text: text.to_owned(),
            reason,
        };
        if text == "active" {
            return Ok(Health::Active);
        }
        if let Some(port) = text.strip_prefix("tcp:") {
            return match port.parse::<u16>() {
                Ok(port) if port > 0 => Ok(Health::Tcp(port)),
                _ => Err(error("tcp:PORT needs a port from 1 to 65535")),
            };
        }
        if text.starts_with("http://") {
            return match url::Url::parse(text) {
                Ok(url) if url.host_str().is_some() && url.port_or_known_default().is_some() => {
                    Ok(Health::Http(HttpCheck {
                        url: text.to_owned(),
                        port: url.port_or_known_default().unwrap_or(80),
                        path: url[url::Position::BeforePath..].to_owned(),
                    }))
                }
                _ => Err(error("give http://HOST:PORT/PATH")),
            };
        }
        Err(error("expected tcp:PORT, http://HOST:PORT/PATH or active"))
    }
}

impl std::fmt::Display for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Health::Active => f.write_str("active"),
            Health::Tcp(port) => write!(f, "tcp:{port}"),
            Health::Http(check) => f.write_str(&check.url),
        }
    }
}

impl Serialize for Health {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Health {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Service {
    /// How the service is checked: its `health`, or systemd's word that it is active.
    pub fn check(&self) -> Health {
        self.health.clone().unwrap_or(Health::Active)
    }
}

pub use crate::names::{valid_role, valid_unit_name};

/// The systemd target that starts a role's services.
pub fn role_target(role: &str) -> String {
    format!("lastmile-role-{role}.target")
}

impl CandidateDocument {
    /// Every role some service names, sorted.
    pub fn roles(&self) -> Vec<String> {
        let roles: std::collections::BTreeSet<&String> =
            self.services.values().flat_map(|s| &s.roles).collect();
        roles.into_iter().cloned().collect()
    }

    /// The services a node with these roles runs: those without roles and those of its roles.
    pub fn services_for<'a>(&'a self, roles: &[String]) -> impl Iterator<Item = (&'a String, &'a Service)> {
        self.services
            .iter()
            .filter(move |(_, s)| s.roles.is_empty() || s.roles.iter().any(|r| roles.contains(r)))
    }
}

impl crate::Document for CandidateDocument {
    const SCHEMA: &'static str = SCHEMA;
    const JSON_SCHEMA: &'static str = include_str!("../../../schemas/candidate.v1.schema.json");

    /// What bake-image checks when it writes the document, checked again by every reader:
    /// service and role names reach `systemctl`, unit files and variable names.
    fn check(&self) -> Result<(), String> {
        use crate::names::one_line;
        let prefix_ok = self.prefix.starts_with('/')
            && self.prefix.split('/').all(|part| part != "..")
            && self
                .prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/_.-".contains(c));
        if !prefix_ok {
            return Err(format!(
                "prefix {:?}: an absolute path of letters, digits and / _ . -",
                self.prefix
            ));
        }
        for (name, service) in &self.services {
            if !valid_unit_name(name) {
                return Err(format!(
                    "service {name:?}: a unit name holds letters, digits and - _ . only"
                ));
            }
            if service.command.trim().is_empty() || !one_line(&service.command) {
                return Err(format!("service {name}: the command must be one non-empty line"));
            }
            if !service.description.as_deref().is_none_or(one_line) {
                return Err(format!("service {name}: the description must be one line"));
            }
            if let Some(role) = service.roles.iter().find(|r| !valid_role(r)) {
                return Err(format!(
                    "service {name}: role {role:?}: a role holds lower-case letters, digits, - and _ only"
                ));
            }
        }
        for package in &self.packages {
            let words = [&package.name, &package.version, &package.filename];
            if words
                .iter()
                .any(|w| w.is_empty() || !one_line(w) || w.contains([' ', '/']))
            {
                return Err(format!(
                    "package {:?}: a name, version and file name without spaces, slashes or control characters",
                    package.name
                ));
            }
            if let Some(script) = package
                .scripts
                .iter()
                .find(|s| s.is_empty() || s.contains('/') || !one_line(s))
            {
                return Err(format!(
                    "package {}: script {script:?} is not a file name",
                    package.name
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_checks_parse_or_say_what_is_expected() {
        assert_eq!("tcp:7147".parse::<Health>(), Ok(Health::Tcp(7147)));
        let Ok(Health::Http(http)) = "http://127.0.0.1:8080/health?full=1".parse::<Health>() else {
            panic!("an HTTP check")
        };
        assert_eq!((http.port(), http.path()), (8080, "/health?full=1"));
        assert_eq!(http.url(), "http://127.0.0.1:8080/health?full=1");
        assert_eq!("active".parse::<Health>(), Ok(Health::Active));
        for text in ["tcp:7147", "http://127.0.0.1:8080/health", "active"] {
            assert_eq!(text.parse::<Health>().unwrap().to_string(), text);
        }
        // A path is sent as a request line carries it: encoded, never as shell text.
        let Ok(Health::Http(odd)) = "http://127.0.0.1:80/a'$(x) b".parse::<Health>() else {
            panic!("an HTTP check")
        };
        assert_eq!(odd.path(), "/a\'$(x)%20b");
        assert!(
            "tcp:0"
                .parse::<Health>()
                .unwrap_err()
                .to_string()
                .contains("1 to 65535")
        );
        assert!("tcp:http".parse::<Health>().is_err());
        assert!(
            "ping"
                .parse::<Health>()
                .unwrap_err()
                .to_string()
                .contains("expected tcp:PORT")
        );
    }

    #[test]
    fn image_names_carry_the_digest_they_are_for() {
        let digest = Sha256::of(b"image");
        let name = ImageName::of(&digest);
        assert_eq!(name.to_string(), format!("autobuild-{}.tar.gz", digest.short(12)));
        assert_eq!(name.to_string().parse::<ImageName>(), Ok(name.clone()));
        assert!(name.matches(&digest) && !name.matches(&Sha256::of(b"other")));
        assert_eq!(
            name.sbom(),
            format!("autobuild-{}.sbom.cdx.json", digest.short(12))
        );
        for bad in [
            "autobuild-0123.tar.gz",
            "autobuild-0123456789AB.tar.gz",
            "x.tar.gz",
            "autobuild-0123456789ab.tgz",
        ] {
            assert!(bad.parse::<ImageName>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_node_runs_the_services_of_its_roles_and_those_without() {
        let service = |roles: &[&str]| Service {
            command: "x".to_owned(),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            health: None,
            description: None,
            wait_for: Vec::new(),
        };
        let mut services = BTreeMap::new();
        services.insert("everywhere".to_owned(), service(&[]));
        services.insert("portal".to_owned(), service(&["portal"]));
        services.insert("proxy".to_owned(), service(&["monctl", "proxy"]));
        let document = CandidateDocument {
            schema: SCHEMA.to_owned(),
            image: None,
            base: BaseInfo {
                digest: Sha256::of(b""),
                os: String::new(),
            },
            target: TargetInfo {
                python: "3.11.2".to_owned(),
                platform: String::new(),
            },
            prefix: "/opt/lastmile/venv".to_owned(),
            packages: Vec::new(),
            services,
            source_commits: BTreeMap::new(),
            inputs: BTreeMap::new(),
            source_date_epoch: 0,
            tool: String::new(),
            compression: String::new(),
        };
        assert_eq!(document.roles(), ["monctl", "portal", "proxy"]);
        let names = |roles: &[&str]| {
            let roles: Vec<String> = roles.iter().map(|r| (*r).to_owned()).collect();
            document
                .services_for(&roles)
                .map(|(n, _)| n.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&["monctl"]), ["everywhere", "proxy"]);
        assert_eq!(names(&[]), ["everywhere"]);
        assert_eq!(names(&["portal", "proxy"]), ["everywhere", "portal", "proxy"]);
    }
}

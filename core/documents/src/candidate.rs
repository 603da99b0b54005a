//! The `lastmile.candidate/v1` document: one baked release candidate. bake-image prints it (and
//! writes it without the `image` part to `/etc/lastmile/candidate.json` inside the image);
//! deploy-lxc and aqf-run read it to know which digest they deploy, test and promote.

use std::collections::BTreeMap;

use lastmile_fs::Sha256;
use serde::{Deserialize, Serialize};

pub const SCHEMA: &str = "lastmile.candidate/v1";

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
    /// How to tell it is serving: `tcp:PORT` or `http://127.0.0.1:PORT/PATH` (on the node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A service's readiness check, as written in `Service::health`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Something accepts TCP connections on this port of the node.
    Tcp(u16),
    /// A GET of this URL on the node answers 2xx.
    Http(String),
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
        if let Some(port) = text.strip_prefix("tcp:") {
            return match port.parse::<u16>() {
                Ok(port) if port > 0 => Ok(Health::Tcp(port)),
                _ => Err(error("tcp:PORT needs a port from 1 to 65535")),
            };
        }
        if text.starts_with("http://") {
            return match url::Url::parse(text) {
                Ok(url) if url.host_str().is_some() && url.port_or_known_default().is_some() => {
                    Ok(Health::Http(text.to_owned()))
                }
                _ => Err(error("give http://HOST:PORT/PATH")),
            };
        }
        Err(error("expected tcp:PORT or http://HOST:PORT/PATH"))
    }
}

/// Whether `name` can be a role (it becomes part of a unit name).
pub fn valid_role(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Whether `name` can be a service's unit name.
pub fn valid_unit_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

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
    pub fn services_for<'a>(
        &'a self,
        roles: &'a [String],
    ) -> impl Iterator<Item = (&'a String, &'a Service)> {
        self.services
            .iter()
            .filter(move |(_, s)| s.roles.is_empty() || s.roles.iter().any(|r| roles.contains(r)))
    }
}

impl crate::Document for CandidateDocument {
    const SCHEMA: &'static str = SCHEMA;
    const JSON_SCHEMA: &'static str = include_str!("../../../schemas/candidate.v1.schema.json");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_checks_parse_or_say_what_is_expected() {
        assert_eq!("tcp:7147".parse::<Health>(), Ok(Health::Tcp(7147)));
        assert_eq!(
            "http://127.0.0.1:8080/health".parse::<Health>(),
            Ok(Health::Http("http://127.0.0.1:8080/health".to_owned()))
        );
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
    fn a_node_runs_the_services_of_its_roles_and_those_without() {
        let service = |roles: &[&str]| Service {
            command: "x".to_owned(),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            health: None,
            description: None,
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

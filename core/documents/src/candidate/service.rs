//! A candidate's services: what systemd runs, how each is checked, and what it waits for.

use serde::{Deserialize, Serialize};

use crate::names::valid_role;

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

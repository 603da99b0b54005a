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
    /// Units of the base masked in the image, so no node starts them (sorted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub masked_units: Vec<String>,
    pub source_date_epoch: u64,
    /// `bake-image 0.1.0`.
    pub tool: String,
    /// How the archive was compressed (`gzip level 6, members cut at entries (up to 1024 KiB), flate2 (zlib-rs)`).
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
    /// The OS lock the base's Debian packages were checked against (bake-image `--os-lock`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock: Option<BaseLock>,
}

/// The Debian half of the candidate: the lock its base was checked against, package by package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseLock {
    /// sha256 of the `lastmile.oslock/v1` file.
    pub sha256: Sha256,
    /// The host tools that built the base, from the base's own record
    /// ([`crate::base::BASE_PATH`]); empty when the base has none.
    pub built_with: BTreeMap<String, String>,
    /// Every Debian package of the base (the lock's image set), sorted by name.
    pub packages: Vec<DebPackage>,
}

/// One Debian package of the base, as locked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DebPackage {
    pub name: String,
    pub version: String,
    pub architecture: String,
    /// sha256 of the `.deb` it was installed from.
    pub sha256: Sha256,
    /// Who asked for it: `base`, or the roles whose services need it; sorted.
    pub roles: Vec<String>,
}

impl DebPackage {
    /// `pkg:deb/debian/NAME@VERSION?arch=ARCH`, the version's epoch colon percent-encoded as the
    /// purl specification asks.
    pub fn purl(&self) -> String {
        format!(
            "pkg:deb/debian/{}@{}?arch={}",
            self.name,
            self.version.replace(':', "%3A"),
            self.architecture
        )
    }
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
    /// The pin had only an sdist: the wheel was built from it in the build root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub built_from: Option<BuiltFrom>,
}

/// The sdist a wheel was built from, and what it was built with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuiltFrom {
    /// The sdist's file name.
    pub sdist: String,
    /// The sdist's sha256: one of the pinned hashes.
    pub sha256: Sha256,
    /// The build root's packages the wheel depends on (the C library, the Python, the compiler),
    /// as Debian package name → version.
    pub builder: BTreeMap<String, String>,
}

mod service;

pub use service::{Health, HealthError, HttpCheck, Service, WaitFor};

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
    const JSON_SCHEMA: &'static str = include_str!("../../../../schemas/candidate.v1.schema.json");

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
        if let Some(lock) = &self.base.lock {
            let roles = self.roles();
            for deb in &lock.packages {
                if let Some(role) = deb.roles.iter().find(|r| *r != "base" && !roles.contains(r)) {
                    return Err(format!(
                        "Debian package {}: role {role:?} of the OS lock is no role of any service (the services' roles: {})",
                        deb.name,
                        roles.join(", ")
                    ));
                }
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
    fn a_debian_package_is_named_by_its_purl_with_the_epoch_encoded() {
        let deb = DebPackage {
            name: "libbpf1".to_owned(),
            version: "1:1.1.2-0+deb12u1".to_owned(),
            architecture: "amd64".to_owned(),
            sha256: Sha256::of(b"deb"),
            roles: vec!["portal".to_owned()],
        };
        assert_eq!(
            deb.purl(),
            "pkg:deb/debian/libbpf1@1%3A1.1.2-0+deb12u1?arch=amd64"
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
                lock: None,
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
            masked_units: Vec::new(),
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

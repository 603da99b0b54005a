//! The `lastmile.oslock/v1` document: every Debian package of a base root filesystem (and of the
//! build root beside it), as `pin-deps os-lock` resolved it with apt's own solver, with the sha256
//! and size each `.deb` must have, and the archive indexes they came from, each with the sha256
//! of the `InRelease` it was verified by. Sorted, and with no time but the archive's own `Date`,
//! so the same inputs give the same bytes.

use lastmile_fs::Sha256;
use serde::{Deserialize, Serialize};

pub const SCHEMA: &str = "lastmile.oslock/v1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OsLock {
    pub schema: String,
    /// Debian's name of the architecture (`amd64`).
    pub architecture: String,
    /// The archive indexes, in the order given.
    pub indexes: Vec<OsIndex>,
    /// Every package, sorted by name.
    pub packages: Vec<OsPackage>,
}

/// One `URI SUITE COMPONENT` of an archive, as verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OsIndex {
    /// `http://deb.debian.org/debian bookworm main`: what each package's `index` names.
    pub id: String,
    pub uri: String,
    pub suite: String,
    pub component: String,
    /// The release's own `Codename` and `Date`.
    pub codename: String,
    pub date: String,
    /// sha256 of the `InRelease` whose signature was checked.
    pub inrelease_sha256: Sha256,
    /// sha256 of the `Packages` index read (checked against the `InRelease`).
    pub packages_sha256: Sha256,
}

/// Which root filesystem a package belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OsSet {
    /// The base every node's image is made of.
    Image,
    /// Only the build root (a compiler, headers): never in a candidate.
    Build,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OsPackage {
    pub name: String,
    pub version: String,
    pub architecture: String,
    pub sha256: Sha256,
    pub size: u64,
    /// The pool path under the index's URI.
    pub filename: String,
    /// The index's `id`.
    pub index: String,
    pub set: OsSet,
    /// Who asked for it: `base` (the essential and required set, and the base's packages),
    /// a role's name, or `build`; sorted.
    pub roles: Vec<String>,
}

impl crate::Document for OsLock {
    const SCHEMA: &'static str = SCHEMA;
    const JSON_SCHEMA: &'static str = include_str!("../../../schemas/oslock.v1.schema.json");

    fn check(&self) -> Result<(), String> {
        let mut names = std::collections::BTreeSet::new();
        for package in &self.packages {
            if !names.insert((&package.name, &package.architecture)) {
                return Err(format!(
                    "{} ({}) is locked twice",
                    package.name, package.architecture
                ));
            }
            if !self.indexes.iter().any(|i| i.id == package.index) {
                return Err(format!(
                    "{}: index {:?} is not among the indexes",
                    package.name, package.index
                ));
            }
        }
        Ok(())
    }
}

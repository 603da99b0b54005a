//! The `lastmile.lock/v1` document: a resolution with every file of every pinned version, what
//! pin-deps writes with `--format json` and bake-image reads.

use lastmile_fs::Sha256;
use lastmile_python::{ExtraName, PackageName};
use serde::{Deserialize, Serialize};

pub const SCHEMA: &str = "lastmile.lock/v1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockDocument {
    pub schema: String,
    pub target: LockTarget,
    /// The top-level requirements, as written.
    pub requirements: Vec<String>,
    /// Pinned packages, sorted by name.
    pub packages: Vec<LockedPackage>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockTarget {
    /// `3.11`
    pub python: String,
    /// `x86_64-manylinux_2_36`
    pub platform: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedPackage {
    pub name: PackageName,
    pub version: String,
    /// Extras of this package that are installed.
    pub extras: Vec<ExtraName>,
    /// The packages it depends on in this resolution, sorted.
    pub dependencies: Vec<PackageName>,
    /// Every file of this version, sorted by name.
    pub files: Vec<LockedFile>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedFile {
    pub filename: String,
    pub url: String,
    pub sha256: Sha256,
    pub size: u64,
    /// PEP 700 upload time (RFC 3339), when the index gives it (find-links folders and
    /// pypiserver do not).
    pub upload_time: Option<String>,
    /// Whether the target can install this file.
    pub installable: bool,
}

impl crate::Document for LockDocument {
    const SCHEMA: &'static str = SCHEMA;
    const JSON_SCHEMA: &'static str = include_str!("../../../schemas/lock.v1.schema.json");
}

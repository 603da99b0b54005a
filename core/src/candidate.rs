//! The `lastmile.candidate/v1` document: one baked release candidate. bake-image prints it (and
//! writes it without the `image` part to `/etc/lastmile/candidate.json` inside the image);
//! deploy-lxc and aqf-run read it to know which digest they deploy, test and promote.

use std::collections::BTreeMap;

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
    /// systemd units the image enables, by name, with the command each runs.
    pub services: BTreeMap<String, String>,
    /// Source repositories and the commits they were built from.
    pub source_commits: BTreeMap<String, String>,
    /// sha256 of every input that shaped the bytes: the pinned requirements, each overlay tree.
    pub inputs: BTreeMap<String, String>,
    pub source_date_epoch: u64,
    /// `bake-image 0.1.0`.
    pub tool: String,
    /// How the archive was compressed (`gzip level 6, 1 MiB members, flate2/miniz_oxide`).
    pub compression: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageInfo {
    pub path: String,
    pub sha256: String,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseInfo {
    /// sha256 of the base tarball, or of the base folder's tree (paths, modes, owners, contents).
    pub digest: String,
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
    pub sha256: String,
    /// Console scripts it installed into the venv's `bin/`.
    pub scripts: Vec<String>,
}

impl CandidateDocument {
    pub fn from_json(text: &str, source_name: &str) -> Result<Self, crate::document::DocumentError> {
        crate::document::read(text, SCHEMA, source_name)
    }
}

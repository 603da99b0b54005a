//! The `lastmile.base/v1` record a base built from an OS lock carries inside it, at
//! [`BASE_PATH`]: which lock it was built from and the versions of the host tools that built it
//! (mmdebstrap, apt, dpkg shape the bytes too). `scripts/base-from-lock` writes it; bake-image
//! `--os-lock` reads it and copies it into the candidate's manifest.

use std::collections::BTreeMap;

use lastmile_fs::Sha256;
use serde::{Deserialize, Serialize};

pub const SCHEMA: &str = "lastmile.base/v1";

/// Where the record sits in a base root filesystem, relative to its root.
pub const BASE_PATH: &str = "etc/lastmile/base.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaseRecord {
    pub schema: String,
    /// sha256 of the `lastmile.oslock/v1` file the base was built from.
    pub os_lock: Sha256,
    /// Which sets of the lock it holds: `["image"]` for a base, `["build", "image"]` for a
    /// build root.
    pub sets: Vec<crate::oslock::OsSet>,
    /// The host's tools that built it, Debian package name → version.
    pub built_with: BTreeMap<String, String>,
}

impl crate::Document for BaseRecord {
    const SCHEMA: &'static str = SCHEMA;
    const JSON_SCHEMA: &'static str = include_str!("../../../schemas/base.v1.schema.json");

    fn check(&self) -> Result<(), String> {
        if self.sets.is_empty() {
            return Err("sets: a base holds at least the image set".to_owned());
        }
        Ok(())
    }
}

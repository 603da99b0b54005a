//! The `lastmile.affected/v1` document: what a change affects. depgraph `affected` writes it;
//! CI scripts read its `candidate` and build order, and `aqf-run run --affected` runs only the
//! acceptance tests that touch its packages.

use lastmile_python::PackageName;
use serde::{Deserialize, Serialize};

pub const SCHEMA: &str = "lastmile.affected/v1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AffectedDocument {
    pub schema: String,
    /// The changed packages, normalised.
    pub changed: Vec<PackageName>,
    /// Every package downstream of a change (the changed ones included), sorted.
    pub affected: Vec<PackageName>,
    /// The affected in-house packages in build layers.
    pub build_order: Vec<Vec<PackageName>>,
    /// The leaves the change reaches: the candidate's entry points to rebuild.
    pub leaves: Vec<PackageName>,
    /// With `--changed-file` or `--since`: each changed file and the package it changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_files: Option<Vec<ChangedFile>>,
    /// The `--input`s a changed file is in: the candidate changes though no package does.
    pub inputs_changed: Vec<String>,
    /// Whether the change makes a new candidate: a package to rebuild, or an input changed.
    pub candidate: bool,
}

/// A changed file and what holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangedFile {
    /// As given, or as git names it (relative to the repository's top folder).
    pub path: String,
    /// The in-house package whose source tree holds it; `null` for none.
    pub package: Option<PackageName>,
    /// Outside every package: the `--input` (a file or folder the candidate is also made from)
    /// that holds it, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
}

impl crate::Document for AffectedDocument {
    const SCHEMA: &'static str = SCHEMA;
    const JSON_SCHEMA: &'static str = include_str!("../../../schemas/affected.v1.schema.json");

    fn check(&self) -> Result<(), String> {
        if let Some(name) = self.changed.iter().find(|n| !self.affected.contains(n)) {
            return Err(format!("{name} changed but is not among the affected"));
        }
        Ok(())
    }
}

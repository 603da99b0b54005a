//! What a package declares at one version, read from its metadata (a wheel's METADATA, an sdist's
//! PKG-INFO, egg-info `requires.txt`, or metadata built from an sdist): its `Requires-Python` and
//! its requirements, markers and extras included, each parse error naming the file it came from.

use lastmile_dist::DistMetadata;
use lastmile_fs::InputError;
use lastmile_index::DistFile;
use lastmile_python::{Requirement, VersionSpecifiers};

/// A package's dependencies at one version, as the target sees them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Declared {
    pub(crate) requires_python: Option<VersionSpecifiers>,
    pub(crate) requirements: Vec<Requirement>,
    /// Where the metadata was read, for explanations.
    pub(crate) source: String,
}

impl Declared {
    /// Read what `meta` (from `file`) declares.
    pub(crate) fn read(meta: &DistMetadata, file: &DistFile) -> Result<Self, InputError> {
        let requires_python = match &meta.metadata.requires_python {
            Some(text) => Some(requires_python(text).map_err(|e| {
                let reason = e.to_string();
                InputError::new(
                    lastmile_fs::Location::file(file.shown()),
                    format!(
                        "invalid Requires-Python {text:?}: {}",
                        reason.lines().next().unwrap_or_default()
                    ),
                )
            })?),
            None => None,
        };
        let mut requirements = Vec::new();
        for raw in &meta.dependencies {
            let mut requirement = lastmile_python::requirement::parse_requirement(&raw.text, &raw.location)?;
            // egg-info requires.txt sections carry the extra and marker outside the string.
            let extra_clause = raw.extra.as_ref().map(|extra| format!("extra == '{extra}'"));
            for clause in extra_clause.iter().chain(raw.marker.iter()) {
                let marker = lastmile_python::requirement::parse_marker(clause, &raw.location)?;
                requirement.marker.and(marker);
            }
            requirements.push(requirement);
        }
        Ok(Declared {
            requires_python,
            requirements,
            source: file.filename.clone(),
        })
    }
}

/// A `Requires-Python` as old releases write it: strictly, else with the stray commas and
/// spaces packaging tools have always accepted (`>=2.7, !=3.0.*,`).
fn requires_python(
    text: &str,
) -> Result<VersionSpecifiers, pep508_rs::pep440_rs::VersionSpecifiersParseError> {
    text.parse::<VersionSpecifiers>().or_else(|strict| {
        let cleaned: Vec<&str> = text.split(',').map(str::trim).filter(|p| !p.is_empty()).collect();
        cleaned
            .join(", ")
            .parse::<VersionSpecifiers>()
            .map_err(|_| strict)
    })
}

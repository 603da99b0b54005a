//! A fully pinned requirements file, as pin-deps writes it and `pip install --require-hashes`
//! reads it: every requirement `NAME==VERSION` with at least one `--hash=sha256:...`. Anything
//! looser is refused, naming the file and line: what a release candidate (bake-image) and an
//! acceptance suite's own venv (aqf-run) are made from.

use lastmile_fs::{InputError, Location, Sha256};
use pep508_rs::{ExtraName, PackageName, VersionOrUrl};

use super::{FileRequirement, RequirementsFile};

/// One pinned requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinnedRequirement {
    pub name: PackageName,
    pub version: String,
    /// The sha256 digests its files may have.
    pub sha256: Vec<Sha256>,
    /// Extras installed with it (`katcore[monitoring]==1.3`).
    pub extras: Vec<ExtraName>,
    pub location: Location,
}

impl RequirementsFile {
    /// Every requirement of the file, checked to be pinned with hashes; no constraints (a pinned
    /// file is installed as it is) and at least one requirement.
    pub fn pinned(&self, name: &str) -> Result<Vec<PinnedRequirement>, InputError> {
        if let Some(constraint) = self.constraints.first() {
            return Err(InputError::new(
                constraint.location.clone(),
                "constraints (-c) in a pinned file; give the pinned requirements pin-deps wrote",
            ));
        }
        let pins = self
            .requirements
            .iter()
            .map(pinned)
            .collect::<Result<Vec<_>, _>>()?;
        if pins.is_empty() {
            return Err(InputError::new(Location::file(name), "no pinned requirements"));
        }
        Ok(pins)
    }
}

fn pinned(entry: &FileRequirement) -> Result<PinnedRequirement, InputError> {
    let requirement = &entry.requirement;
    let exact = match &requirement.version_or_url {
        Some(VersionOrUrl::VersionSpecifier(specifiers)) if specifiers.len() == 1 => {
            let specifier = specifiers.iter().next().expect("one specifier");
            (*specifier.operator() == pep440_rs::Operator::Equal).then(|| specifier.version().to_string())
        }
        _ => None,
    };
    let Some(version) = exact else {
        return Err(InputError::new(
            entry.location.clone(),
            format!(
                "{requirement}: not pinned; every requirement must be NAME==VERSION with --hash=sha256:... (pin-deps writes that)"
            ),
        ));
    };
    let sha256 = entry
        .hashes
        .iter()
        .filter(|(algo, _)| algo == "sha256")
        .map(|(_, hex)| {
            hex.parse::<Sha256>()
                .map_err(|e| InputError::new(entry.location.clone(), format!("--hash=sha256:{e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if sha256.is_empty() {
        return Err(InputError::new(
            entry.location.clone(),
            format!(
                "{}=={version}: no --hash=sha256:...; only files checked against their hashes are installed",
                requirement.name
            ),
        ));
    }
    Ok(PinnedRequirement {
        name: requirement.name.clone(),
        version,
        sha256,
        extras: requirement.extras.clone(),
        location: entry.location.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Result<Vec<PinnedRequirement>, String> {
        RequirementsFile::parse(text, "req.txt")
            .and_then(|f| f.pinned("req.txt"))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn only_exact_versions_with_hashes_pass() {
        let hash = "a".repeat(64);
        let pins = check(&format!("pytest==8.3.4 \\\n    --hash=sha256:{hash}\n")).unwrap();
        assert_eq!(
            (pins[0].name.as_ref(), pins[0].version.as_str()),
            ("pytest", "8.3.4")
        );
        assert_eq!(
            check("pytest==8.3.4\n").unwrap_err(),
            "req.txt:1: pytest==8.3.4: no --hash=sha256:...; only files checked against their hashes are installed"
        );
        assert!(
            check(&format!("pytest>=8 --hash=sha256:{hash}\n"))
                .unwrap_err()
                .contains("not pinned")
        );
        assert!(
            check("# nothing\n")
                .unwrap_err()
                .contains("no pinned requirements")
        );
        assert!(check("-c other.txt\n").is_err());
    }
}

//! The pinned input of a bake: every requirement `name==version` with at least one sha256, from a
//! pip-format `pinned-requirements.txt` (pin-deps' default output) or a `lastmile.lock/v1`
//! document (`pin-deps --format json`). Anything looser is refused, naming the file and line.

use lastmile_documents::Document;
use lastmile_documents::lock::LockDocument;
use lastmile_fs::{InputError, Location, Sha256};
use lastmile_python::PackageName;
use lastmile_python::requirements_file::RequirementsFile;

/// One pinned distribution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pin {
    pub(crate) name: PackageName,
    pub(crate) version: String,
    /// Allowed sha256 digests.
    pub(crate) sha256: Vec<Sha256>,
    /// Where it was pinned (`pinned-requirements.txt:12`).
    pub(crate) origin: String,
    /// A top-level requirement (its venv entry gets `REQUESTED`).
    pub(crate) requested: bool,
    /// Extras installed with it (`katcore[monitoring]==1.3`): their requirements must be pinned.
    pub(crate) extras: Vec<lastmile_python::ExtraName>,
}

/// Read pins from `text`, named `name` in messages.
pub(crate) fn parse(text: &str, name: &str) -> Result<Vec<Pin>, InputError> {
    if text.trim_start().starts_with('{') {
        return from_lock(text, name);
    }
    let file = RequirementsFile::parse(text, name)?;
    let mut pins: Vec<Pin> = file
        .pinned(name)?
        .into_iter()
        .map(|pinned| Pin {
            name: pinned.name,
            version: pinned.version,
            sha256: pinned.sha256,
            origin: pinned.location.to_string(),
            // pip-compile's format does not say which pins were asked for; every pin counts.
            requested: true,
            extras: pinned.extras,
        })
        .collect();
    pins.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(pins)
}

fn from_lock(text: &str, name: &str) -> Result<Vec<Pin>, InputError> {
    let lock = LockDocument::from_json(text, name)
        .map_err(|e| InputError::new(Location::file(name), e.to_string()))?;
    let requested: Vec<PackageName> = lock
        .requirements
        .iter()
        .filter_map(|r| lastmile_python::requirement::parse_requirement(r, &Location::file(name)).ok())
        .map(|r| r.name)
        .collect();
    let mut pins = Vec::new();
    for package in lock.packages {
        let sha256: Vec<Sha256> = package
            .files
            .iter()
            .filter(|f| f.installable)
            .map(|f| f.sha256)
            .collect();
        if sha256.is_empty() {
            return Err(InputError::new(
                Location::file(name),
                format!(
                    "{}=={}: no installable file in the lock",
                    package.name, package.version
                ),
            ));
        }
        pins.push(Pin {
            requested: requested.contains(&package.name),
            extras: package.extras.clone(),
            name: package.name,
            version: package.version,
            sha256,
            origin: name.to_owned(),
        });
    }
    pins.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(pins)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(c: char) -> String {
        c.to_string().repeat(64)
    }

    #[test]
    fn pinned_and_hashed_lines_are_read() {
        let text = format!(
            "katcp==0.9.4 \\\n    --hash=sha256:{} \\\n    --hash=sha256:{}\n    # via katcore\nnumpy==2.0 --hash=sha256:{}\n",
            hash('a'),
            hash('B'),
            hash('c')
        );
        let pins = parse(&text, "pinned.txt").unwrap();
        assert_eq!(pins.len(), 2);
        assert_eq!(pins[0].name.as_ref(), "katcp");
        assert_eq!(pins[0].version, "0.9.4");
        let hex: Vec<String> = pins[0].sha256.iter().map(ToString::to_string).collect();
        assert_eq!(hex, [hash('a'), hash('b')]);
        assert_eq!(pins[0].origin, "pinned.txt:1");
    }

    #[test]
    fn loose_or_unhashed_requirements_are_refused_with_their_line() {
        let (a, b) = (hash('a'), hash('b'));
        let err = parse(
            &format!("a==1 --hash=sha256:{a}\nb>=1 --hash=sha256:{b}\n"),
            "p.txt",
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("p.txt:2: b>=1: not pinned"), "{err}");
        let err = parse("a==1\n", "p.txt").unwrap_err();
        assert!(
            err.to_string().starts_with("p.txt:1: a==1: no --hash=sha256"),
            "{err}"
        );
        let err = parse(&format!("a==1.* --hash=sha256:{a}\n"), "p.txt").unwrap_err();
        assert!(err.to_string().contains("not pinned"), "{err}");
        let err = parse("a==1 --hash=sha256:aa\n", "p.txt").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("p.txt:1: --hash=sha256:\"aa\" is not a sha256 digest"),
            "{err}"
        );
    }
}

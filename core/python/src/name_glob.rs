//! Package-name globs (`kat*`, `ska-tango-*`): which names a person calls in-house. Matched
//! against the normalized name (PEP 503: lower case, runs of `-_.` as one `-`), so `Kat_Core`,
//! `kat-core` and `kat.core` are the same name to a glob as they are to an index.

use std::str::FromStr;

use pep508_rs::PackageName;

/// Globs over package names; a name matches if any glob does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameGlobs {
    globs: Vec<(String, glob::Pattern)>,
}

/// A glob that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{glob:?}: not a name glob ({reason})")]
pub struct NameGlobError {
    glob: String,
    reason: String,
}

impl NameGlobs {
    /// Read each glob (normalized the way names are: `Kat_*` is `kat-*`).
    pub fn new<S: AsRef<str>>(globs: &[S]) -> Result<Self, NameGlobError> {
        let globs = globs
            .iter()
            .map(|g| {
                let text = g.as_ref();
                let error = |reason: String| NameGlobError {
                    glob: text.to_owned(),
                    reason,
                };
                if text.is_empty() || text.chars().any(|c| c.is_whitespace() || c == '/') {
                    return Err(error("names, * and ? only".into()));
                }
                let pattern = glob::Pattern::new(&crate::requirements_file::normalize(text))
                    .map_err(|e| error(e.to_string()))?;
                Ok((text.to_owned(), pattern))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { globs })
    }

    /// Add exact names (a graph's in-house packages).
    pub fn add_names<'a>(&mut self, names: impl IntoIterator<Item = &'a PackageName>) {
        for name in names {
            let pattern =
                glob::Pattern::new(&glob::Pattern::escape(name.as_ref())).expect("an escaped name is a glob");
            self.globs.push((name.to_string(), pattern));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.globs.is_empty()
    }

    pub fn matches(&self, name: &PackageName) -> bool {
        self.globs.iter().any(|(_, p)| p.matches(name.as_ref()))
    }

    /// The globs as given.
    pub fn globs(&self) -> impl Iterator<Item = &str> {
        self.globs.iter().map(|(text, _)| text.as_str())
    }
}

impl FromStr for NameGlobs {
    type Err = NameGlobError;

    /// One glob.
    fn from_str(text: &str) -> Result<Self, NameGlobError> {
        Self::new(&[text])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> PackageName {
        PackageName::from_str(text).unwrap()
    }

    #[test]
    fn globs_match_normalized_names() {
        let globs = NameGlobs::new(&["Kat_*", "ska.tango?"]).unwrap();
        assert!(!globs.matches(&name("katcore")));
        assert!(globs.matches(&name("kat-core")));
        assert!(globs.matches(&name("Kat.Core")));
        assert!(globs.matches(&name("ska-tango1")));
        assert!(!globs.matches(&name("numpy")));
        assert!(NameGlobs::default().is_empty());
        let mut exact = NameGlobs::default();
        exact.add_names([&name("kat_core")]);
        assert!(exact.matches(&name("Kat.Core")) && !exact.matches(&name("katcore")));
    }

    #[test]
    fn a_bad_glob_is_named() {
        let err = NameGlobs::new(&["kat[*"]).unwrap_err().to_string();
        assert!(err.starts_with("\"kat[*\": not a name glob"), "{err}");
        let err = NameGlobs::new(&["a b"]).unwrap_err().to_string();
        assert_eq!(err, "\"a b\": not a name glob (names, * and ? only)");
    }
}

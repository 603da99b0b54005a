//! Core metadata (`METADATA`, `PKG-INFO`) and the egg-info `requires.txt`, read with line numbers so
//! a malformed file is reported as `path:line: ...`.

use std::borrow::Cow;

use crate::requirement::RawDependency;
use lastmile_fs::{InputError, Location};

/// The fields of a core-metadata file that the tools use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CoreMetadata {
    pub metadata_version: Option<String>,
    pub name: String,
    pub version: Option<String>,
    pub requires_python: Option<String>,
    pub requires_dist: Vec<RawDependency>,
    pub provides_extra: Vec<String>,
    /// Fields a build backend may fill in later (PEP 643); an sdist's metadata is static only when
    /// `Metadata-Version` is 2.2 or later and `Requires-Dist` is not listed here.
    pub dynamic: Vec<String>,
}

impl CoreMetadata {
    /// Parse the header block of a core-metadata file (RFC 822 style, continuation lines indented).
    /// The body after the first blank line (the long description) is ignored.
    pub fn parse(text: &str, location: &Location) -> Result<Self, InputError> {
        let mut meta = CoreMetadata::default();
        let mut name: Option<String> = None;
        for (line_no, key, value) in headers(text, location)? {
            let is = |field: &str| key.eq_ignore_ascii_case(field);
            if is("requires-dist") {
                meta.requires_dist
                    .push(RawDependency::new(value.into_owned(), location.at(line_no)));
            } else if is("provides-extra") {
                meta.provides_extra.push(value.into_owned());
            } else if is("name") {
                name = Some(value.into_owned());
            } else if is("version") {
                meta.version = Some(value.into_owned());
            } else if is("requires-python") {
                meta.requires_python = Some(value.into_owned());
            } else if is("metadata-version") {
                meta.metadata_version = Some(value.into_owned());
            } else if is("dynamic") {
                meta.dynamic.push(value.into_owned());
            }
        }
        meta.name = match name {
            Some(name) if !name.trim().is_empty() => name,
            _ => return Err(InputError::new(location.clone(), "no Name field in the metadata")),
        };
        Ok(meta)
    }

    /// Whether the dependency list can be trusted as written (PEP 643 rules for sdists).
    pub fn has_static_dependencies(&self) -> bool {
        let version_ok = self
            .metadata_version
            .as_deref()
            .and_then(|v| v.parse::<crate::Version>().ok())
            .is_some_and(|v| v >= crate::Version::new([2, 2]));
        version_ok
            && !self
                .dynamic
                .iter()
                .any(|d| d.eq_ignore_ascii_case("requires-dist"))
    }
}

/// One header: its line, name and value.
type Header<'t> = (usize, &'t str, Cow<'t, str>);

/// Split the header block into `(line, key, value)`, joining continuation lines. Values are
/// borrowed from `text` unless continuation lines had to be joined (most headers a tool never
/// looks at, like `Classifier`, cost no allocation).
fn headers<'t>(text: &'t str, location: &Location) -> Result<Vec<Header<'t>>, InputError> {
    let mut out: Vec<Header<'t>> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        // Only an empty line ends the headers: a line of spaces is a continuation (long
        // License fields carry them), as Python's email parser reads it.
        if line.trim_end_matches('\r').is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            match out.last_mut() {
                // A line of spaces adds nothing to the value.
                Some(_) if line.trim().is_empty() => {}
                Some((_, _, value)) => {
                    let joined = value.to_mut();
                    joined.push('\n');
                    joined.push_str(line.trim());
                }
                None => {
                    return Err(InputError::new(
                        location.at(line_no),
                        "continuation line before any header",
                    ));
                }
            }
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            return Err(InputError::new(
                location.at(line_no),
                format!("not a `Name: value` metadata header: {:?}", truncate(line)),
            ));
        };
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(InputError::new(
                location.at(line_no),
                format!("invalid metadata header name {key:?}"),
            ));
        }
        out.push((line_no, key, Cow::Borrowed(value.trim())));
    }
    Ok(out)
}

#[cfg(test)]
mod header_tests {
    use super::*;

    #[test]
    fn a_line_of_spaces_continues_a_header() {
        let text = "Metadata-Version: 2.1\nName: matplotlib\nLicense: Agreement\n         \n         2. more\nRequires-Dist: numpy>=1.25\n\nLong description\nRequires-Dist: not-a-header\n";
        let meta = CoreMetadata::parse(text, &Location::file("METADATA")).unwrap();
        let deps: Vec<&str> = meta.requires_dist.iter().map(|d| d.text.as_str()).collect();
        assert_eq!(deps, ["numpy>=1.25"]);
    }
}

/// Parse an egg-info `requires.txt`: requirement lines, grouped by `[extra]`, `[extra:marker]` or
/// `[:marker]` section headers.
pub fn parse_requires_txt(text: &str, location: &Location) -> Result<Vec<RawDependency>, InputError> {
    let mut out = Vec::new();
    let mut extra: Option<String> = None;
    let mut marker: Option<String> = None;
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = location.at(index + 1);
        if let Some(section) = line.strip_prefix('[') {
            let Some(section) = section.strip_suffix(']') else {
                return Err(InputError::new(
                    at,
                    format!("unterminated section header {line:?}"),
                ));
            };
            let (e, m) = section.split_once(':').unwrap_or((section, ""));
            extra = Some(e.trim()).filter(|e| !e.is_empty()).map(str::to_owned);
            marker = Some(m.trim()).filter(|m| !m.is_empty()).map(str::to_owned);
            continue;
        }
        let mut dep = RawDependency::new(line, at);
        dep.extra = extra.clone();
        dep.marker = marker.clone();
        out.push(dep);
    }
    Ok(out)
}

fn truncate(line: &str) -> String {
    line.chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const METADATA: &str = "Metadata-Version: 2.1\nName: katcore\nVersion: 1.3.0\nRequires-Python: >=3.9\n\
Requires-Dist: katcp ~=0.9\nRequires-Dist: katmisc[metrics] ; extra == \"monitoring\"\n\
Provides-Extra: monitoring\nDescription: a long\n        folded value\n\nBody: not a header\n";

    #[test]
    fn reads_fields_and_lines() {
        let meta = CoreMetadata::parse(METADATA, &Location::file("METADATA")).unwrap();
        assert_eq!(meta.name, "katcore");
        assert_eq!(meta.version.as_deref(), Some("1.3.0"));
        assert_eq!(meta.requires_python.as_deref(), Some(">=3.9"));
        assert_eq!(meta.requires_dist.len(), 2);
        assert_eq!(meta.requires_dist[1].location.to_string(), "METADATA:6");
        assert_eq!(meta.provides_extra, ["monitoring"]);
        assert!(!meta.has_static_dependencies());
    }

    #[test]
    fn names_the_bad_line() {
        let err = CoreMetadata::parse("Name: x\nVersion 1.0\n", &Location::file("a/METADATA")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "a/METADATA:2: not a `Name: value` metadata header: \"Version 1.0\""
        );
        let err = CoreMetadata::parse("Version: 1.0\n", &Location::file("PKG-INFO")).unwrap_err();
        assert_eq!(err.to_string(), "PKG-INFO: no Name field in the metadata");
    }

    #[test]
    fn static_dependencies_need_metadata_2_2() {
        let meta = CoreMetadata::parse("Metadata-Version: 2.2\nName: x\n", &Location::file("P")).unwrap();
        assert!(meta.has_static_dependencies());
        let meta = CoreMetadata::parse(
            "Metadata-Version: 2.4\nName: x\nDynamic: Requires-Dist\n",
            &Location::file("P"),
        )
        .unwrap();
        assert!(!meta.has_static_dependencies());
    }

    #[test]
    fn requires_txt_sections() {
        let deps = parse_requires_txt(
            "a>=1\n\n[test]\nb\n[:python_version < \"3.12\"]\nc\n[m:os_name == \"nt\"]\nd\n",
            &Location::file("requires.txt"),
        )
        .unwrap();
        let shape: Vec<_> = deps
            .iter()
            .map(|d| (d.text.as_str(), d.extra.as_deref(), d.marker.as_deref()))
            .collect();
        assert_eq!(
            shape,
            [
                ("a>=1", None, None),
                ("b", Some("test"), None),
                ("c", None, Some("python_version < \"3.12\"")),
                ("d", Some("m"), Some("os_name == \"nt\"")),
            ]
        );
    }
}

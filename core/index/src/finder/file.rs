//! Distribution files: where each is, what its name says, and what its index says about it.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use lastmile_fs::Sha256;
use lastmile_python::filename::{WheelName, parse_sdist_name};
use lastmile_python::{PackageName, TagRanks, Version};
use url::Url;

use crate::http::{redact, split_credentials};

/// Where a file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileLocation {
    Path(PathBuf),
    Url(Url),
}

/// One distribution file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistFile {
    pub filename: String,
    pub location: FileLocation,
    pub name: PackageName,
    pub version: Version,
    pub kind: FileKind,
    /// Yanked from its index (PEP 592), with the reason given (possibly empty).
    pub yanked: Option<String>,
    /// False when the index says the file's `Requires-Python` excludes the target.
    pub python_ok: bool,
    /// The sha256 the index gives for it.
    pub sha256: Option<Sha256>,
    pub size: Option<u64>,
    /// PEP 700 upload time (RFC 3339), when the index gives it.
    pub upload_time: Option<String>,
    /// `Some(sha256 if given)` when the index serves its metadata as a file (PEP 658).
    pub core_metadata: Option<Option<Sha256>>,
    /// The source that offers it: a find-links folder as given, or an index URL (without
    /// credentials). Where a pin came from.
    pub origin: Arc<str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileKind {
    /// `Some(rank)` for a wheel the target can install (lower is better), `None` for one it
    /// cannot.
    Wheel {
        rank: Option<usize>,
    },
    Sdist,
}

impl DistFile {
    /// Whether the target can install this file (a compatible wheel, or an sdist).
    pub fn installable(&self) -> bool {
        self.python_ok && !matches!(self.kind, FileKind::Wheel { rank: None })
    }

    /// Where the file is, as a URL without credentials (`file://` for local files).
    pub fn url(&self) -> String {
        match &self.location {
            FileLocation::Path(path) => {
                // Percent-encoded: a path with a space, `#` or `%` is still one URL that means it.
                let absolute = path.canonicalize().unwrap_or_else(|_| path.clone());
                Url::from_file_path(&absolute).map_or_else(
                    |()| format!("file://{}", absolute.display()),
                    |url| url.to_string(),
                )
            }
            FileLocation::Url(url) => split_credentials(url).0.to_string(),
        }
    }

    /// The file's place for messages: its path, or its URL redacted.
    pub fn shown(&self) -> String {
        match &self.location {
            FileLocation::Path(path) => path.display().to_string(),
            FileLocation::Url(url) => redact(url.as_str()),
        }
    }

    /// The local path of a local file.
    pub fn path(&self) -> Option<&Path> {
        match &self.location {
            FileLocation::Path(path) => Some(path),
            FileLocation::Url(_) => None,
        }
    }
}

/// Recognise a distribution file by its name.
pub(crate) fn dist_file(
    filename: String,
    location: FileLocation,
    origin: &Arc<str>,
    ranks: &TagRanks,
) -> Option<DistFile> {
    let (name, version, kind) = if filename.ends_with(".whl") {
        let wheel = WheelName::from_str(&filename).ok()?;
        let rank = ranks.rank(&wheel);
        (wheel.name, wheel.version, FileKind::Wheel { rank })
    } else {
        let (name, version) = parse_sdist_name(&filename)?;
        (name, version, FileKind::Sdist)
    };
    Some(DistFile {
        filename,
        location,
        name,
        version,
        kind,
        yanked: None,
        python_ok: true,
        sha256: None,
        size: None,
        upload_time: None,
        core_metadata: None,
        origin: origin.clone(),
    })
}

/// The folders of `--find-links` values (paths or `file://` URLs); other URLs are refused.
pub fn find_links_dirs(values: &[String]) -> Result<Vec<PathBuf>, crate::IndexError> {
    values
        .iter()
        .map(|value| {
            find_links_dir(value).ok_or_else(|| crate::IndexError::FindLinks { value: redact(value) })
        })
        .collect()
}

/// The folder path of a `--find-links` value (a path or a `file://` URL).
pub fn find_links_dir(value: &str) -> Option<PathBuf> {
    match value.strip_prefix("file://") {
        Some(path) => Some(PathBuf::from(path)),
        None if !value.contains("://") => Some(Path::new(value).to_path_buf()),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_files_become_percent_encoded_urls() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("my wheels #1 100%");
        std::fs::create_dir_all(&folder).unwrap();
        let path = folder.join("a-1.0-py3-none-any.whl");
        std::fs::write(&path, b"").unwrap();
        let file = dist_file(
            "a-1.0-py3-none-any.whl".into(),
            FileLocation::Path(path.clone()),
            &Arc::from("folder"),
            &TagRanks::default(),
        )
        .unwrap();
        let url = file.url();
        assert!(
            url.ends_with("/my%20wheels%20%231%20100%25/a-1.0-py3-none-any.whl"),
            "{url}"
        );
        assert_eq!(
            Url::parse(&url).unwrap().to_file_path().unwrap(),
            path.canonicalize().unwrap()
        );
    }
}

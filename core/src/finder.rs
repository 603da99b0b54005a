//! Distribution files available to a resolver: folders of wheels and sdists (`--find-links`).
//! Each file is recognised by its name; its metadata is read only when a resolver asks for that
//! version, and its sha256 only when an output needs it.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use pep440_rs::Version;
use pep508_rs::PackageName;
use sha2::{Digest, Sha256};

use crate::dist::{DistMetadata, read_sdist, read_wheel};
use crate::location::{InputError, Location};
use crate::target::Target;
use crate::wheel_name::{WheelName, parse_sdist_name};

/// One distribution file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistFile {
    pub filename: String,
    pub path: PathBuf,
    pub name: PackageName,
    pub version: Version,
    /// `Some(rank)` for a wheel the target can install (lower is better), `None` for one it
    /// cannot; sdists have no rank.
    pub kind: FileKind,
    /// Yanked from its index (PEP 592), with the reason given (possibly empty).
    pub yanked: Option<String>,
    /// False when the index says the file's `Requires-Python` excludes the target.
    pub python_ok: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileKind {
    Wheel { rank: Option<usize> },
    Sdist,
}

impl DistFile {
    /// Whether the target can install this file (a compatible wheel, or an sdist).
    pub fn installable(&self) -> bool {
        self.python_ok && !matches!(self.kind, FileKind::Wheel { rank: None })
    }

    /// The sha256 of the file, hex-encoded.
    pub fn sha256(&self) -> Result<String, InputError> {
        let mut file = std::fs::File::open(&self.path).map_err(|e| {
            InputError::new(
                Location::file(self.path.display().to_string()),
                format!("cannot read: {e}"),
            )
        })?;
        let mut hasher = Sha256::new();
        let mut buffer = vec![0; 64 * 1024];
        loop {
            let read = file.read(&mut buffer).map_err(|e| {
                InputError::new(
                    Location::file(self.path.display().to_string()),
                    format!("cannot read: {e}"),
                )
            })?;
            if read == 0 {
                break;
            }
            hasher.update(&buffer[..read]);
        }
        Ok(format!("{:x}", hasher.finalize()))
    }

    /// The sha256, from `cache` when the file (same path, size and modification time) was hashed
    /// before; otherwise computed and remembered there. A cache that cannot be written is skipped.
    pub fn sha256_cached(&self, cache: Option<&HashCache>) -> Result<String, InputError> {
        let Some(cache) = cache else { return self.sha256() };
        let key = cache.key(&self.path);
        if let Some(hash) = key.as_ref().and_then(|k| cache.get(k)) {
            return Ok(hash);
        }
        let hash = self.sha256()?;
        if let Some(key) = key {
            cache.put(&key, &hash);
        }
        Ok(hash)
    }

    pub fn size(&self) -> u64 {
        std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0)
    }
}

/// Every distribution file found in a set of folders, by package and version (newest last).
#[derive(Debug, Default, Clone)]
pub struct Finder {
    packages: BTreeMap<PackageName, BTreeMap<Version, Vec<DistFile>>>,
}

impl Finder {
    /// List the wheels and sdists of `dirs` (not recursive). Files whose names are not
    /// distribution names are ignored.
    pub fn scan(dirs: &[PathBuf], target: &Target) -> Result<Self, InputError> {
        let mut finder = Finder::default();
        for dir in dirs {
            let entries = std::fs::read_dir(dir).map_err(|e| {
                InputError::new(
                    Location::file(dir.display().to_string()),
                    format!("cannot read find-links folder: {e}"),
                )
            })?;
            for entry in entries {
                let entry = entry
                    .map_err(|e| InputError::new(Location::file(dir.display().to_string()), e.to_string()))?;
                let filename = entry.file_name().to_string_lossy().into_owned();
                if let Some(file) = dist_file(filename, entry.path(), target) {
                    finder.add(file);
                }
            }
        }
        finder.sort();
        Ok(finder)
    }

    fn add(&mut self, file: DistFile) {
        self.packages
            .entry(file.name.clone())
            .or_default()
            .entry(file.version.clone())
            .or_default()
            .push(file);
    }

    /// Add the files of a PEP 503 simple index kept in a folder (`--index-url file:///...`):
    /// one `NAME/index.html` project page a package, links relative to the page.
    pub fn add_file_index(&mut self, root: &Path, target: &Target) -> Result<(), InputError> {
        let entries = std::fs::read_dir(root).map_err(|e| {
            InputError::new(
                Location::file(root.display().to_string()),
                format!("cannot read index folder: {e}"),
            )
        })?;
        let mut pages: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path().join("index.html"))
            .filter(|p| p.is_file())
            .collect();
        pages.sort();
        for page in pages {
            let location = Location::file(page.display().to_string());
            let html = std::fs::read_to_string(&page)
                .map_err(|e| InputError::new(location.clone(), format!("cannot read: {e}")))?;
            let base = page.parent().unwrap_or(root);
            for link in crate::simple_index::parse_project_page(&html, &location)? {
                let path = match link.href.strip_prefix("file://") {
                    Some(absolute) => PathBuf::from(absolute),
                    None if link.href.contains("://") => {
                        return Err(InputError::new(
                            location,
                            format!("{}: only local files are supported in a file index", link.href),
                        ));
                    }
                    None => base.join(&link.href),
                };
                let Some(mut file) = dist_file(link.filename.clone(), path, target) else {
                    continue;
                };
                file.yanked = link.yanked.clone();
                if let Some(spec) = &link.requires_python {
                    let specifiers = spec.parse::<pep440_rs::VersionSpecifiers>().map_err(|e| {
                        InputError::new(
                            location.clone(),
                            format!("{}: invalid data-requires-python {spec:?}: {e}", link.filename),
                        )
                    })?;
                    file.python_ok = specifiers.contains(&target.python_full_version());
                }
                self.add(file);
            }
        }
        self.sort();
        Ok(())
    }

    fn sort(&mut self) {
        for versions in self.packages.values_mut() {
            for files in versions.values_mut() {
                files.sort_by(|a, b| a.filename.cmp(&b.filename));
                files.dedup_by(|a, b| a.filename == b.filename);
            }
        }
    }

    /// The versions of a package that have at least one file the target can install and that is
    /// not yanked. A yanked version is a candidate only when `exact` names it (PEP 592: an exact
    /// pin may still select it).
    pub fn versions_allowing(&self, name: &PackageName, exact: Option<&Version>) -> Vec<&Version> {
        self.packages
            .get(name)
            .map(|versions| {
                versions
                    .iter()
                    .filter(|(version, files)| {
                        files
                            .iter()
                            .any(|f| f.installable() && (f.yanked.is_none() || exact == Some(*version)))
                    })
                    .map(|(v, _)| v)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The versions of a package with an installable file that is not yanked.
    pub fn versions(&self, name: &PackageName) -> Vec<&Version> {
        self.versions_allowing(name, None)
    }

    /// Versions whose installable files are all yanked.
    pub fn yanked_versions(&self, name: &PackageName) -> Vec<&Version> {
        self.packages
            .get(name)
            .map(|versions| {
                versions
                    .keys()
                    .filter(|v| self.yanked(name, v).is_some())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Why a version was yanked, when every installable file of it is.
    pub fn yanked(&self, name: &PackageName, version: &Version) -> Option<&str> {
        let files: Vec<&DistFile> = self
            .files(name, version)
            .iter()
            .filter(|f| f.installable())
            .collect();
        if files.is_empty() || files.iter().any(|f| f.yanked.is_none()) {
            return None;
        }
        files[0].yanked.as_deref()
    }

    /// Every file of a version.
    pub fn files(&self, name: &PackageName, version: &Version) -> &[DistFile] {
        self.packages
            .get(name)
            .and_then(|v| v.get(version))
            .map_or(&[], Vec::as_slice)
    }

    pub fn knows(&self, name: &PackageName) -> bool {
        self.packages.contains_key(name)
    }

    /// The metadata of a version: from its best wheel for the target, else from its sdist when
    /// that metadata is static (PEP 643). `Ok(None)` when neither is usable.
    pub fn metadata(
        &self,
        name: &PackageName,
        version: &Version,
    ) -> Result<Option<(DistMetadata, &DistFile)>, InputError> {
        let files = self.files(name, version);
        let best_wheel = files
            .iter()
            .filter(|f| f.python_ok)
            .filter_map(|f| match f.kind {
                FileKind::Wheel { rank: Some(rank) } => Some((rank, f)),
                _ => None,
            })
            .min_by_key(|(rank, _)| *rank);
        if let Some((_, wheel)) = best_wheel {
            return Ok(Some((read_wheel(&wheel.path)?, wheel)));
        }
        for sdist in files.iter().filter(|f| f.kind == FileKind::Sdist) {
            let meta = read_sdist(&sdist.path)?;
            if meta.metadata.has_static_dependencies() {
                return Ok(Some((meta, sdist)));
            }
        }
        Ok(None)
    }
}

/// Remembered sha256 digests of local files, one small file a digest under `DIR/sha256/`, keyed by
/// the file's canonical path, size and modification time (so a rewritten file is hashed again).
#[derive(Debug, Clone)]
pub struct HashCache {
    dir: PathBuf,
}

impl HashCache {
    pub fn new(root: &Path) -> Self {
        Self {
            dir: root.join("sha256"),
        }
    }

    /// The default cache folder: `$LASTMILE_CACHE_DIR`, else `$XDG_CACHE_HOME/lastmile`, else
    /// `~/.cache/lastmile`.
    pub fn default_root() -> Option<PathBuf> {
        let var = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        var("LASTMILE_CACHE_DIR")
            .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("lastmile")))
            .or_else(|| var("HOME").map(|h| h.join(".cache/lastmile")))
    }

    fn key(&self, path: &Path) -> Option<String> {
        use std::os::unix::fs::MetadataExt;
        let canonical = path.canonicalize().ok()?;
        let meta = std::fs::metadata(&canonical).ok()?;
        let mut hasher = Sha256::new();
        hasher.update(canonical.as_os_str().as_encoded_bytes());
        hasher.update(format!(
            "\0{}\0{}\0{}",
            meta.len(),
            meta.mtime(),
            meta.mtime_nsec()
        ));
        Some(format!("{:x}", hasher.finalize()))
    }

    fn get(&self, key: &str) -> Option<String> {
        let text = std::fs::read_to_string(self.dir.join(key)).ok()?;
        let hash = text.trim();
        (hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit())).then(|| hash.to_owned())
    }

    fn put(&self, key: &str, hash: &str) {
        if std::fs::create_dir_all(&self.dir).is_ok() {
            let _ = crate::fs::write_atomic(&self.dir.join(key), hash.as_bytes());
        }
    }
}

/// Recognise a distribution file by its name.
fn dist_file(filename: String, path: PathBuf, target: &Target) -> Option<DistFile> {
    let (name, version, kind) = if filename.ends_with(".whl") {
        let wheel = WheelName::from_str(&filename).ok()?;
        let rank = target.wheel_rank(&wheel);
        (wheel.name, wheel.version, FileKind::Wheel { rank })
    } else {
        let (name, version) = parse_sdist_name(&filename)?;
        (name, version, FileKind::Sdist)
    };
    Some(DistFile {
        filename,
        path,
        name,
        version,
        kind,
        yanked: None,
        python_ok: true,
    })
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
    fn the_hash_cache_follows_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let cache = HashCache::new(&dir.path().join("cache"));
        let path = dir.path().join("a-1.0-py3-none-any.whl");
        std::fs::write(&path, b"one").unwrap();
        let target = Target::new("3.11", "x86_64-manylinux_2_36").unwrap();
        let file = dist_file("a-1.0-py3-none-any.whl".into(), path.clone(), &target).unwrap();
        let first = file.sha256_cached(Some(&cache)).unwrap();
        assert_eq!(first, file.sha256().unwrap());
        assert_eq!(
            std::fs::read_dir(dir.path().join("cache/sha256"))
                .unwrap()
                .count(),
            1
        );
        assert_eq!(file.sha256_cached(Some(&cache)).unwrap(), first);
        // Rewritten (different size, new mtime): hashed again, not served stale.
        std::fs::write(&path, b"two!").unwrap();
        let second = file.sha256_cached(Some(&cache)).unwrap();
        assert_ne!(second, first);
        assert_eq!(second, file.sha256().unwrap());
    }
}

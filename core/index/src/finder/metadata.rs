//! A version's metadata and a file's bytes: from the index's PEP 658 metadata file, else from the
//! wheel's zip index read by HTTP range requests, else from the downloaded file (sdists are
//! always downloaded). Metadata read any way is cached, by the file's URL and sha256.

use std::path::PathBuf;

use lastmile_dist::{DistMetadata, metadata_from_text, read_sdist_as, read_wheel, wheel_metadata_text};
use lastmile_fs::Sha256;
use lastmile_python::{PackageName, Version};
use url::Url;

use super::{DistFile, FileKind, FileLocation, Finder};
use crate::IndexError;
use crate::hash_cache::{HashCache, sha256_cached};
use crate::http::{HttpErrorKind, redact, split_credentials};

impl Finder {
    /// The metadata of a version: from its best wheel for the target, else from its sdist when
    /// that metadata is static (PEP 643). `Ok(None)` when neither is usable.
    pub fn metadata(
        &self,
        name: &PackageName,
        version: &Version,
    ) -> Result<Option<(DistMetadata, DistFile)>, IndexError> {
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
            return Ok(Some((self.file_metadata(wheel)?, wheel.clone())));
        }
        for sdist in files.iter().filter(|f| f.kind == FileKind::Sdist) {
            let meta = self.file_metadata(sdist)?;
            if meta.metadata.has_static_dependencies() {
                return Ok(Some((meta, sdist.clone())));
            }
        }
        Ok(None)
    }

    /// One file's metadata, read once. A file whose metadata names another package or version
    /// than its file name is refused: which one it is would depend on who reads it.
    pub fn file_metadata(&self, file: &DistFile) -> Result<DistMetadata, IndexError> {
        let slot = self
            .inner
            .metadata
            .lock()
            .expect("metadata lock")
            .entry(file.url())
            .or_default()
            .clone();
        slot.get_or_init(|| self.read_metadata(file).and_then(|meta| matches_name(file, meta)))
            .clone()
    }

    fn read_metadata(&self, file: &DistFile) -> Result<DistMetadata, IndexError> {
        let url = match &file.location {
            FileLocation::Path(path) => {
                return Ok(match file.kind {
                    FileKind::Wheel { .. } => read_wheel(path)?,
                    FileKind::Sdist => read_sdist_as(path, &path.display().to_string())?,
                });
            }
            FileLocation::Url(url) => url,
        };
        let client = &self.inner.client;
        let shown = redact(url.as_str());
        if file.kind == FileKind::Sdist {
            let (path, _) = client.download(url, file.sha256.as_ref())?;
            return Ok(read_sdist_as(&path, &shown)?);
        }
        // Remembered from an earlier run, whichever way it was read.
        let key = metadata_key(url, file.sha256.as_ref());
        if let Some(text) = client.cached_immutable(&key) {
            return Ok(metadata_from_text(
                &String::from_utf8_lossy(&text),
                &format!("{shown}.metadata"),
            )?);
        }
        if let Some(hash) = &file.core_metadata {
            let mut metadata_url = url.clone();
            metadata_url.set_path(&format!("{}.metadata", url.path()));
            match client.get_immutable(&metadata_url, &key, hash.as_ref()) {
                Ok(bytes) => {
                    return Ok(metadata_from_text(
                        &String::from_utf8_lossy(&bytes),
                        &format!("{shown}.metadata"),
                    )?);
                }
                Err(e) if e.kind == HttpErrorKind::NotCached => return Err(e.into()),
                Err(e) => tracing::debug!("{e}; reading the wheel instead"),
            }
        }
        let text = match client.range_reader(url) {
            Ok(reader) => wheel_metadata_text(reader, &shown)
                .inspect_err(|e| tracing::debug!("{e}; downloading the wheel instead"))
                .ok(),
            Err(e) if e.kind == HttpErrorKind::Unavailable => return Err(e.into()),
            Err(e) => {
                tracing::debug!("{e}; downloading the wheel instead");
                None
            }
        };
        let text = match text {
            Some(text) => text,
            None => {
                let (path, _) = client.download(url, file.sha256.as_ref())?;
                let file = std::fs::File::open(&path).map_err(|e| IndexError::read(&path, e))?;
                wheel_metadata_text(std::io::BufReader::new(file), &shown)?
            }
        };
        client.store_immutable(&key, text.as_bytes());
        Ok(metadata_from_text(&text, &shown)?)
    }

    /// The file's sha256: the index's, else computed (local files through `cache`, remote files
    /// by downloading them into the content-addressed store).
    pub fn sha256(&self, file: &DistFile, cache: Option<&HashCache>) -> Result<Sha256, IndexError> {
        if let Some(hash) = &file.sha256 {
            return Ok(*hash);
        }
        match &file.location {
            FileLocation::Path(path) => sha256_cached(path, cache).map_err(|e| IndexError::read(path, e)),
            FileLocation::Url(url) => Ok(self.inner.client.download(url, None)?.1),
        }
    }

    /// A local copy of the file (downloaded and checked against its sha256 if remote).
    pub fn local_path(&self, file: &DistFile) -> Result<PathBuf, IndexError> {
        match &file.location {
            FileLocation::Path(path) => Ok(path.clone()),
            FileLocation::Url(url) => Ok(self.inner.client.download(url, file.sha256.as_ref())?.0),
        }
    }

    /// The file's size: from the index, else from the local copy.
    pub fn size(&self, file: &DistFile) -> u64 {
        if let Some(size) = file.size {
            return size;
        }
        self.local_path(file)
            .ok()
            .and_then(|p| std::fs::metadata(p).ok())
            .map_or(0, |m| m.len())
    }
}

/// The metadata, if it names the package and version the file name does.
fn matches_name(file: &DistFile, meta: DistMetadata) -> Result<DistMetadata, IndexError> {
    let name = meta.metadata.name.parse::<PackageName>().ok();
    let version = meta
        .metadata
        .version
        .as_deref()
        .and_then(|v| v.parse::<Version>().ok());
    if name.as_ref() == Some(&file.name) && version.as_ref().is_none_or(|v| *v == file.version) {
        return Ok(meta);
    }
    Err(IndexError::Page(lastmile_fs::InputError::new(
        lastmile_fs::Location::file(file.shown()),
        format!(
            "its metadata says it is {} {}, but its file name says {} {}; the file is not used",
            meta.metadata.name,
            meta.metadata.version.as_deref().unwrap_or("(no version)"),
            file.name,
            file.version
        ),
    )))
}

/// The cache key of a remote wheel's metadata.
pub(super) fn metadata_key(url: &Url, sha256: Option<&Sha256>) -> String {
    let sha256 = sha256.map(Sha256::to_string).unwrap_or_default();
    format!("metadata\0{}\0{sha256}", split_credentials(url).0)
}

//! Downloads into the content-addressed store `CACHE/http-v2/files/sha256/AB/ABCD...`: a file
//! is stored under its sha256 and checked against the expected one before it is used. Without a
//! cache folder nothing is downloaded (a run without a cache gives the client a scratch folder
//! of its own, removed when the run ends, so nothing is left behind in /tmp).

use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use lastmile_fs::{Sha256, Sha256Writer};
use url::Url;

use super::cache::write_cache;
use super::credentials::split_credentials;
use super::{HttpClient, HttpError, HttpErrorKind};

/// The largest file downloaded (the largest wheels on PyPI are about 2.5 GB): a server that sends
/// more is cut off rather than allowed to fill the disk.
const MAX_DOWNLOAD: u64 = 4 << 30;

impl HttpClient {
    /// Where a file with this sha256 is (or would be) stored.
    pub fn stored_file(&self, sha256: &Sha256) -> Option<PathBuf> {
        let hex = sha256.to_string();
        self.cache_path(&["files", "sha256", &hex[..2], &hex])
    }

    /// Download a file into the content-addressed store (or a temporary folder without a cache)
    /// and return its path and sha256. A file already stored under the expected hash is not
    /// downloaded again; a download whose hash differs from `sha256` is refused and removed.
    pub fn download(&self, url: &Url, sha256: Option<&Sha256>) -> Result<(PathBuf, Sha256), HttpError> {
        let io =
            |e: std::io::Error| HttpError::new(url, HttpErrorKind::Other, format!("storing the file: {e}"));
        if let Some(want) = sha256
            && let Some(stored) = self.stored_file(want)
            && stored.is_file()
        {
            self.counters.cache_hits.fetch_add(1, Ordering::Relaxed);
            return Ok((stored, *want));
        }
        // Without a known hash, a URL downloaded before is found through its pointer file.
        let pointer = self.cache_path(&[
            "files",
            "by-url",
            &Sha256::of(split_credentials(url).0.as_str()).to_string(),
        ]);
        if sha256.is_none()
            && let Some(pointer) = &pointer
            && let Ok(text) = std::fs::read_to_string(pointer)
            && let Ok(hash) = text.trim().parse::<Sha256>()
            && let Some(stored) = self.stored_file(&hash)
            && stored.is_file()
        {
            self.counters.cache_hits.fetch_add(1, Ordering::Relaxed);
            return Ok((stored, hash));
        }
        let Some(dir) = self.cache_path(&["files", "tmp"]) else {
            return Err(HttpError::new(
                url,
                HttpErrorKind::Other,
                "no cache folder to download into (give --cache-dir)",
            ));
        };
        let mut response = self.get_ok(url)?;
        std::fs::create_dir_all(&dir).map_err(io)?;
        let temp = tempfile::NamedTempFile::new_in(&dir).map_err(io)?;
        let mut writer = Sha256Writer::new(temp);
        let mut reader = response.body_mut().with_config().limit(MAX_DOWNLOAD).reader();
        let mut buffer = vec![0; 256 * 1024];
        loop {
            let read = reader.read(&mut buffer).map_err(|e| {
                HttpError::new(url, HttpErrorKind::Unavailable, format!("download failed: {e}"))
            })?;
            if read == 0 {
                break;
            }
            std::io::Write::write_all(&mut writer, &buffer[..read]).map_err(io)?;
            self.counters.bytes.fetch_add(read, Ordering::Relaxed);
        }
        let (got, _, temp) = writer.finish();
        if let Some(want) = sha256
            && got != *want
        {
            return Err(HttpError::new(
                url,
                HttpErrorKind::HashMismatch,
                format!("sha256 {got} does not match the expected {want}; the file was not used"),
            ));
        }
        let destination = self
            .stored_file(&got)
            .unwrap_or_else(|| dir.join(got.to_string()));
        if let Some(parent) = destination.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        temp.persist(&destination).map_err(|e| io(e.error))?;
        if let Some(pointer) = &pointer {
            let _ = write_cache(pointer, got.to_string().as_bytes());
        }
        Ok((destination, got))
    }
}

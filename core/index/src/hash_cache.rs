//! Remembered sha256 digests of local files, so a folder of wheels is hashed once, not on every
//! run: one small file a digest under `CACHE/sha256/`, keyed by the file's canonical path, size
//! and modification time (so a rewritten file is hashed again).

use std::path::{Path, PathBuf};

use lastmile_fs::Sha256;

/// The digest cache.
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

    /// The default cache folder ([`lastmile_fs::cache_root`]), if it can be trusted
    /// ([`lastmile_fs::trusted_dir`]); none (no cache) otherwise, with a warning.
    pub fn default_root() -> Option<PathBuf> {
        let root = lastmile_fs::cache_root().and_then(|root| lastmile_fs::trusted_dir(&root).map(|()| root));
        root.inspect_err(|e| tracing::warn!("not caching: {e}")).ok()
    }

    fn key(&self, path: &Path) -> Option<String> {
        use std::os::unix::fs::MetadataExt;
        let canonical = path.canonicalize().ok()?;
        let meta = std::fs::metadata(&canonical).ok()?;
        let mut key = canonical.as_os_str().as_encoded_bytes().to_vec();
        key.extend(format!("\0{}\0{}\0{}", meta.len(), meta.mtime(), meta.mtime_nsec()).bytes());
        Some(Sha256::of(&key).to_string())
    }

    fn get(&self, key: &str) -> Option<Sha256> {
        std::fs::read_to_string(self.dir.join(key))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    fn put(&self, key: &str, hash: &Sha256) {
        if std::fs::create_dir_all(&self.dir).is_ok() {
            let _ = lastmile_fs::write_atomic(&self.dir.join(key), hash.to_string().as_bytes());
        }
    }
}

/// The sha256 of a local file, from `cache` when the file (same path, size and modification
/// time) was hashed before; otherwise computed and remembered there.
pub fn sha256_cached(path: &Path, cache: Option<&HashCache>) -> std::io::Result<Sha256> {
    let Some(cache) = cache else {
        return Sha256::of_file(path);
    };
    let key = cache.key(path);
    if let Some(hash) = key.as_ref().and_then(|k| cache.get(k)) {
        return Ok(hash);
    }
    let hash = Sha256::of_file(path)?;
    if let Some(key) = key {
        cache.put(&key, &hash);
    }
    Ok(hash)
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
        let first = sha256_cached(&path, Some(&cache)).unwrap();
        assert_eq!(first, Sha256::of_file(&path).unwrap());
        assert_eq!(
            std::fs::read_dir(dir.path().join("cache/sha256"))
                .unwrap()
                .count(),
            1
        );
        assert_eq!(sha256_cached(&path, Some(&cache)).unwrap(), first);
        // Rewritten (different size, new mtime): hashed again, not served stale.
        std::fs::write(&path, b"two!").unwrap();
        let second = sha256_cached(&path, Some(&cache)).unwrap();
        assert_ne!(second, first);
        assert_eq!(second, Sha256::of_file(&path).unwrap());
    }
}

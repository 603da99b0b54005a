//! The digest of a base folder, and of each of its files.
//!
//! Every bake names the base by a digest of its whole tree (paths, types, modes, owners and the
//! sha256 of each file), and the archive names each of the base's files by its sha256; the
//! files' digests are remembered between bakes ([`crate::digests`]), so an unchanged base is not
//! read again.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use lastmile_fs::Sha256;
use sha2::Digest;

use crate::digests::{Remembered, Stat};

/// The sha256 of each regular file of a base folder, by its path relative to the base, with
/// the file's inode, size and time: a file of the staging tree that is still that inode,
/// unchanged (a hard link the bake did not replace), holds these bytes, so the archive can name
/// them by their digest without reading them.
#[derive(Debug, Clone, Default)]
pub(crate) struct BaseFiles(HashMap<PathBuf, (Stat, Sha256)>);

impl BaseFiles {
    /// The digest of the file at `relative`, if `meta` is the very inode that was digested,
    /// unchanged in size and time.
    pub(crate) fn digest_of(&self, relative: &Path, meta: &std::fs::Metadata) -> Option<Sha256> {
        let (then, digest) = self.0.get(relative)?;
        (*then == Stat::of(meta)).then_some(*digest)
    }
}

/// A digest of the tree at `root`: every path with its type, mode, owner, size and content (the
/// sha256 of a file's bytes, or a link's target); and the digest of each file. With `cache`, the
/// digests an earlier bake remembered for this folder serve its unchanged files, and what was
/// read is remembered for the next bake.
pub(crate) fn tree_digest(root: &Path, cache: Option<&Path>) -> anyhow::Result<(Sha256, BaseFiles)> {
    let absolute = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
    let set = format!(
        "base-{}",
        Sha256::of(absolute.as_os_str().as_encoded_bytes()).short(16)
    );
    let mut remembered = Remembered::open(cache, &set);
    let mut hasher = sha2::Sha256::new();
    for relative in crate::tree::sorted_paths(root)? {
        lastmile_process::interrupt::check()?;
        let path = root.join(&relative);
        let meta = std::fs::symlink_metadata(&path)?;
        hasher.update(relative.as_os_str().as_encoded_bytes());
        // A folder's size is the file system's business (how it allocates entries), not the
        // tree's: only a file's size counts, so a copy of the base elsewhere has the same digest.
        hasher.update(format!(
            "\0{:o}\0{}\0{}\0{}\0",
            meta.mode(),
            meta.uid(),
            meta.gid(),
            if meta.is_file() { meta.len() } else { 0 }
        ));
        if meta.file_type().is_symlink() {
            hasher.update(std::fs::read_link(&path)?.as_os_str().as_encoded_bytes());
        } else if meta.is_file() {
            let digest = remembered
                .digest(&relative, &path, &meta)
                .with_context(|| format!("reading {}", path.display()))?;
            hasher.update(digest.as_bytes());
        }
        hasher.update(b"\n");
    }
    let (read, known) = remembered.counts();
    tracing::debug!("{}: {read} files read, {known} known", root.display());
    remembered.keep();
    let files = BaseFiles(remembered.into_seen());
    Ok((Sha256::from(<[u8; 32]>::from(hasher.finalize())), files))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tree digest is the same whether the files' digests were remembered or read, and
    /// follows a change to a file's bytes.
    #[test]
    fn the_digest_is_the_same_from_remembered_digests_and_follows_a_change() {
        let base = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        std::fs::create_dir(base.path().join("etc")).unwrap();
        std::fs::write(base.path().join("etc/a"), b"one").unwrap();
        std::fs::write(base.path().join("etc/b"), b"two").unwrap();
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        for name in ["etc/a", "etc/b"] {
            let file = std::fs::File::options()
                .write(true)
                .open(base.path().join(name))
                .unwrap();
            file.set_modified(old).unwrap();
        }
        let (cold, _) = tree_digest(base.path(), None).unwrap();
        assert_eq!(tree_digest(base.path(), Some(cache.path())).unwrap().0, cold);
        let (again, files) = tree_digest(base.path(), Some(cache.path())).unwrap();
        assert_eq!(again, cold);
        let meta = std::fs::metadata(base.path().join("etc/a")).unwrap();
        assert_eq!(
            files.digest_of(Path::new("etc/a"), &meta),
            Some(Sha256::of(b"one"))
        );

        std::fs::write(base.path().join("etc/b"), b"TWO").unwrap();
        let (changed, files) = tree_digest(base.path(), Some(cache.path())).unwrap();
        assert_ne!(changed, cold);
        assert_eq!(changed, tree_digest(base.path(), None).unwrap().0);
        let meta = std::fs::metadata(base.path().join("etc/b")).unwrap();
        assert_eq!(
            files.digest_of(Path::new("etc/b"), &meta),
            Some(Sha256::of(b"TWO"))
        );
    }
}

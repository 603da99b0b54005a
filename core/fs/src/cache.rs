//! The cache folder every tool shares, and the one rule for trusting it: what a cache holds is
//! used without being checked again (a venv that is run, a remembered digest), so a cache another
//! local user can write is never used. A cache folder is a real folder (not a symlink), owned by
//! the user running the tool, and writable by nobody else; one that does not exist yet is made
//! with mode 0700.

use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

/// A cache folder that cannot be trusted, or none that can be found.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("no cache folder: set LASTMILE_CACHE_DIR (or HOME)")]
    NoRoot,
    #[error("cache folder {0}: {1}")]
    Untrusted(PathBuf, String),
    #[error("cache folder {0}: {1}")]
    Io(PathBuf, #[source] std::io::Error),
}

/// `$LASTMILE_CACHE_DIR`, else `$XDG_CACHE_HOME/lastmile`, else `~/.cache/lastmile`; never a
/// shared folder such as `/tmp` when none is set. Not checked: see [`trusted_dir`].
pub fn cache_root() -> Result<PathBuf, CacheError> {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("LASTMILE_CACHE_DIR")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("lastmile")))
        .or_else(|| var("HOME").map(|h| h.join(".cache/lastmile")))
        .ok_or(CacheError::NoRoot)
}

/// Make `dir` (mode 0700, parents as needed) or check the one there: a folder, not a symlink,
/// owned by this user, not writable by group or others.
pub fn trusted_dir(dir: &Path) -> Result<(), CacheError> {
    let io = |e| CacheError::Io(dir.to_owned(), e);
    match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(io)?;
        }
        Err(e) => return Err(io(e)),
        Ok(_) => {}
    }
    let meta = std::fs::symlink_metadata(dir).map_err(io)?;
    let untrusted = |why: String| Err(CacheError::Untrusted(dir.to_owned(), why));
    if meta.file_type().is_symlink() {
        return untrusted("is a symlink; give the real folder".into());
    }
    if !meta.is_dir() {
        return untrusted("is not a folder".into());
    }
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return untrusted(format!(
            "is owned by uid {}, not by this user (uid {me}); what it holds is not trusted",
            meta.uid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return untrusted(format!(
            "is writable by other users (mode {:o}); chmod go-w it or use another",
            meta.mode() & 0o7777
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn a_missing_cache_is_made_private() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        trusted_dir(&dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        trusted_dir(&dir).unwrap();
    }

    #[test]
    fn a_cache_others_can_write_or_own_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let open = tmp.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = trusted_dir(&open).unwrap_err().to_string();
        assert!(
            err.ends_with("is writable by other users (mode 777); chmod go-w it or use another"),
            "{err}"
        );

        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(tmp.path(), &link).unwrap();
        let err = trusted_dir(&link).unwrap_err().to_string();
        assert!(err.contains("is a symlink"), "{err}");

        if rustix::process::geteuid().is_root() {
            let theirs = tmp.path().join("theirs");
            std::fs::create_dir(&theirs).unwrap();
            std::os::unix::fs::chown(&theirs, Some(65534), None).unwrap();
            let err = trusted_dir(&theirs).unwrap_err().to_string();
            assert!(err.contains("is owned by uid 65534, not by this user"), "{err}");
        }
    }
}

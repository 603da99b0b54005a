//! File writes that never leave a half-written file behind.

use std::io::{self, Write};
use std::path::Path;

/// Write `contents` to `path` atomically: a temporary file in the destination folder, flushed to
/// disk, then renamed over the destination. A killed run leaves the old file or none.
pub fn write_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |file| file.write_all(contents))
}

/// Like [`write_atomic`], with a closure that streams the contents into the temporary file.
///
/// A destination that exists and is not a regular file (`/dev/null`, `/dev/stdout`, a FIFO; or a
/// link to one) is written in place: renaming over it would replace the device with a file, for
/// every program on the machine.
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut std::fs::File) -> io::Result<()>,
) -> io::Result<()> {
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
        let mut file = std::fs::OpenOptions::new().write(true).open(path)?;
        write(&mut file)?;
        return file.flush();
    }
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{file_name}."))
        .suffix(".tmp")
        // As any new file: 0666 less the umask (a temporary file would be 0600).
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666))
        .tempfile_in(dir)?;
    write(temp.as_file_mut())?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|err| err.error)?;
    sync_dir(dir)
}

/// Flush a folder's entries to disk, so a rename into it survives a crash (the file's own
/// `sync_all` does not cover the name).
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.txt");
        std::fs::write(&target, "old").unwrap();
        write_atomic(&target, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_device_is_written_through_never_replaced() {
        // Through a link of the test's own, so a regression replaces the link, not the device.
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.json");
        std::os::unix::fs::symlink("/dev/null", &out).unwrap();
        write_atomic(&out, b"gone").unwrap();
        assert_eq!(std::fs::read_link(&out).unwrap(), Path::new("/dev/null"));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_failed_write_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.txt");
        std::fs::write(&target, "old").unwrap();
        let result = write_atomic_with(&target, |_| Err(io::Error::other("disk on fire")));
        assert!(result.is_err());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}

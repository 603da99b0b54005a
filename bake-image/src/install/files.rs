//! Files and folders the install writes: fixed modes whatever the umask, and never a write
//! through a hard link to the base (a file is unlinked and created anew).

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Write a new file with mode 0644, or 0755 when `executable`.
pub(crate) fn write_file(path: &Path, data: &[u8], executable: bool) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        create_dirs(parent)?;
    }
    let mode = if executable { 0o755 } else { 0o644 };
    remove_if_there(path)?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    file.write_all(data)?;
    // The umask may have narrowed the mode at creation: set it exactly.
    file.set_permissions(std::fs::Permissions::from_mode(mode))
}

/// Remove a file if there is one (a base file the install replaces, or a link to it).
pub(crate) fn remove_if_there(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Create folders with mode 0755 whatever the umask.
pub(crate) fn create_dirs(path: &Path) -> std::io::Result<()> {
    if path.is_dir() {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        create_dirs(parent)?;
    }
    match std::fs::create_dir(path) {
        Ok(()) => std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

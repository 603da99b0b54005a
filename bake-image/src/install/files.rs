//! Files and folders the install writes, all through the image's [`Root`]: fixed modes whatever
//! the umask, never through a link of the base, never through a hard link to it (a file there is
//! unlinked and created anew).

use std::path::Path;

use lastmile_fs::{Root, RootError};

/// Write a new file with mode 0644, or 0755 when `executable`.
pub(crate) fn write_file(root: &Root, rel: &Path, data: &[u8], executable: bool) -> Result<(), RootError> {
    root.write(rel, data, if executable { 0o755 } else { 0o644 })
}

/// Remove a file if there is one (a base file the install replaces, or a link to it).
pub(crate) fn remove_if_there(root: &Root, rel: &Path) -> Result<(), RootError> {
    root.remove_file(rel)
}

/// Create folders with mode 0755 whatever the umask.
pub(crate) fn create_dirs(root: &Root, rel: &Path) -> Result<(), RootError> {
    root.create_dir_all(rel)
}

//! A tree's paths in the order an archive lists them.

use std::io;
use std::path::{Path, PathBuf};

/// Every path under `root` (relative, `""` for the root itself), in archive order: component by
/// component, each compared by its bytes, as GNU tar's `--sort=name`. A directory comes before
/// its contents and its whole subtree comes together (`usr`, `usr/bin`, then `usr-lib`), so an
/// extracting tar can set each directory's time once it has left it.
pub(crate) fn sorted_paths(root: &Path) -> io::Result<Vec<PathBuf>> {
    let mut paths = Vec::new();
    for entry in walkdir::WalkDir::new(root).follow_links(false) {
        let entry = entry.map_err(io::Error::other)?;
        let relative = entry
            .path()
            .strip_prefix(root)
            .map_err(io::Error::other)?
            .to_path_buf();
        paths.push(relative);
    }
    // `Path` orders by components, and a Unix component by its bytes.
    paths.sort();
    Ok(paths)
}

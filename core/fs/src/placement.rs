//! Hints to the file system about where a tree should go.

use std::io;
use std::path::Path;

/// Mark the folder `dir` as the top of a new tree of folders (`chattr +T`, `FS_TOPDIR_FL`):
/// ext4 then places the folders made under it apart from their neighbours instead of beside
/// them. A tool that makes and removes a large tree again and again (a bake's staging root
/// filesystem) otherwise makes each new folder among the inodes the last run just freed, which
/// ext4 without a journal skips one by one for a minute after the removal (1 ms or more a
/// folder). A hint: file systems without the flag refuse it, and the caller may go on.
pub fn mark_top_of_tree(dir: &Path) -> io::Result<()> {
    let fd = rustix::fs::open(
        dir,
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )?;
    let flags = rustix::fs::ioctl_getflags(&fd)?;
    rustix::fs::ioctl_setflags(&fd, flags | rustix::fs::IFlags::TOPDIR)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On a file system that has the flag, the folder carries it afterwards; elsewhere the
    /// refusal says the flag is not supported, nothing else.
    #[test]
    fn a_marked_folder_carries_the_top_of_tree_flag() {
        let dir = tempfile::tempdir().unwrap();
        match mark_top_of_tree(dir.path()) {
            Ok(()) => {
                let fd = std::fs::File::open(dir.path()).unwrap();
                let flags = rustix::fs::ioctl_getflags(&fd).unwrap();
                assert!(flags.contains(rustix::fs::IFlags::TOPDIR), "{flags:?}");
            }
            Err(e) => assert!(
                [Some(25), Some(95)].contains(&e.raw_os_error()),
                "not an unsupported-flag refusal: {e}"
            ),
        }
    }
}

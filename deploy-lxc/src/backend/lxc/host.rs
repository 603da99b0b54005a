//! Limits of this host that many containers with systemd inside run into. Every container's
//! systemd (and its journald) takes inotify instances of root, which `fs.inotify.max_user_instances`
//! caps host-wide (128 by default): past it, systemd gives up at once and the container stops
//! while it boots. A dozen nodes on one host reach it.

use std::path::Path;

/// What one container's systemd takes while it boots (about 5 once booted).
const PER_CONTAINER: usize = 8;

/// The inotify instances open on this host now (every process's `anon_inode:inotify`
/// descriptors; all of root's, since the containers run as root).
fn inotify_in_use() -> usize {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return 0;
    };
    procs
        .flatten()
        .filter(|p| {
            p.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|p| std::fs::read_dir(p.path().join("fd")).ok())
        .flat_map(|fds| fds.flatten())
        .filter(|fd| std::fs::read_link(fd.path()).is_ok_and(|t| t == Path::new("anon_inode:inotify")))
        .count()
}

/// Why `starting` more containers (0: those booting now) may not boot, when the inotify limit is
/// close, with how to raise it.
pub(super) fn inotify_exhausted(starting: usize) -> Option<String> {
    let limit: usize = std::fs::read_to_string("/proc/sys/fs/inotify/max_user_instances")
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let used = inotify_in_use();
    let needed = used + starting * PER_CONTAINER;
    let near = if starting == 0 {
        used * 10 >= limit * 9
    } else {
        needed > limit
    };
    near.then(|| {
        format!(
            "this host allows {limit} inotify instances (fs.inotify.max_user_instances), {used} are in use{}: the systemd of a container past it stops at once; raise it: sysctl -w fs.inotify.max_user_instances={}",
            if starting == 0 {
                String::new()
            } else {
                format!(
                    " and {starting} more container{} take about {}",
                    if starting == 1 { "" } else { "s" },
                    starting * PER_CONTAINER
                )
            },
            (needed * 2).max(1024)
        )
    })
}

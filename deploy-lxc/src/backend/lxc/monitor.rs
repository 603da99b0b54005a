//! The LXC containers running on this host under any folder, from their monitor processes.

use std::path::PathBuf;

/// Every running LXC container on this host, wherever its folder: each has a monitor process
/// titled `[lxc monitor] LXCPATH NAME`.
pub(super) fn monitors() -> Vec<(String, PathBuf)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        if !entry
            .file_name()
            .to_string_lossy()
            .bytes()
            .all(|b| b.is_ascii_digit())
        {
            continue;
        }
        let Ok(file) = std::fs::File::open(entry.path().join("cmdline")) else {
            continue;
        };
        let mut bytes = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::Read::take(file, 4096), &mut bytes);
        if let Some(monitor) = monitor_title(&bytes) {
            found.push(monitor);
        }
    }
    found.sort();
    found.dedup();
    found
}

/// `(name, lxcpath)` of a monitor's command line.
pub(super) fn monitor_title(cmdline: &[u8]) -> Option<(String, PathBuf)> {
    let text = String::from_utf8_lossy(cmdline);
    let title = text.trim_end_matches('\0').replace('\0', " ");
    let rest = title.strip_prefix("[lxc monitor] ")?;
    let (lxcpath, name) = rest.trim_end().rsplit_once(' ')?;
    Some((name.to_owned(), PathBuf::from(lxcpath)))
}

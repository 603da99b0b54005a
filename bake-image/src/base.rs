//! The root filesystem being baked: the base copied (or unpacked) into a staging folder with
//! owners, modes, hard links and extended attributes intact, and what bake-image adds to it
//! (overlays, systemd units, byte-compiled files, the manifest), all with fixed modes and owners.

use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, bail};
use lastmile_fs::Sha256;
use sha2::Digest;

/// What is known about the base.
#[derive(Debug, Clone)]
pub(crate) struct Base {
    pub(crate) digest: Sha256,
    pub(crate) os: String,
}

/// Copy or unpack `base` into `rootfs` (which must not exist).
pub(crate) fn prepare(base: &Path, rootfs: &Path) -> anyhow::Result<Base> {
    let meta = std::fs::metadata(base).with_context(|| format!("--base {}", base.display()))?;
    let digest = if meta.is_dir() {
        // Hard links to the base when it is on the same file system: nothing is copied, and
        // nothing of the base is ever written through them (every file the bake writes is
        // unlinked first and created anew). Else cp -a, which keeps owners, modes, times, hard
        // links, symlinks and xattrs.
        let copy =
            |flags: &str| lastmile_process::output(&duct::cmd!("cp", flags, base, rootfs).stderr_to_stdout());
        let linked = copy("-al")?;
        if !linked.status.success() {
            tracing::debug!(
                "cannot hard-link the base ({}); copying it",
                String::from_utf8_lossy(&linked.stdout).trim()
            );
            if rootfs.exists() {
                std::fs::remove_dir_all(rootfs)?;
            }
            let copied = copy("-a")?;
            if !copied.status.success() {
                bail!(
                    "copying the base {}: {}",
                    base.display(),
                    String::from_utf8_lossy(&copied.stdout).trim()
                );
            }
        }
        tree_digest(rootfs)?
    } else {
        let name = base.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let known = [".tar", ".tar.gz", ".tgz", ".tar.xz", ".tar.zst"];
        if !known.iter().any(|k| name.ends_with(k)) {
            bail!(
                "--base {}: expected a folder or a .tar, .tar.gz, .tar.xz or .tar.zst",
                base.display()
            );
        }
        std::fs::create_dir_all(rootfs)?;
        // GNU tar knows every compression by the name and keeps numeric owners and xattrs.
        let out = lastmile_process::output(
            &duct::cmd!(
                "tar",
                "--extract",
                "--auto-compress",
                "--file",
                base,
                "--directory",
                rootfs,
                "--numeric-owner",
                "--same-permissions",
                "--xattrs",
                "--xattrs-include=*"
            )
            .stderr_to_stdout(),
        )
        .with_context(|| format!("running tar on {}", base.display()))?;
        if !out.status.success() {
            bail!(
                "--base {}: cannot unpack: {}",
                base.display(),
                String::from_utf8_lossy(&out.stdout).trim()
            );
        }
        lastmile_fs::Sha256::of_file(base).with_context(|| format!("reading {}", base.display()))?
    };
    for needed in ["etc/os-release", "sbin/init"] {
        if std::fs::symlink_metadata(rootfs.join(needed)).is_err()
            && std::fs::symlink_metadata(rootfs.join("usr").join(needed)).is_err()
        {
            bail!(
                "--base {}: no /{needed}; LXC and Proxmox need it (scripts/base-rootfs makes a base with systemd as init)",
                base.display()
            );
        }
    }
    Ok(Base {
        digest,
        os: os_release(rootfs),
    })
}

/// `debian 12 (bookworm)`.
fn os_release(rootfs: &Path) -> String {
    let text = std::fs::read_to_string(rootfs.join("etc/os-release"))
        .or_else(|_| std::fs::read_to_string(rootfs.join("usr/lib/os-release")))
        .unwrap_or_default();
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .map(|v| v.trim_matches('"').to_owned())
            .unwrap_or_default()
    };
    format!(
        "{} {} ({})",
        field("ID"),
        field("VERSION_ID"),
        field("VERSION_CODENAME")
    )
}

/// A digest of a tree: every path with its type, mode, owner, size and content (or link target).
pub(crate) fn tree_digest(root: &Path) -> anyhow::Result<Sha256> {
    let mut hasher = sha2::Sha256::new();
    for relative in crate::archive::sorted_paths(root)? {
        lastmile_process::interrupt::check()?;
        let path = root.join(&relative);
        let meta = std::fs::symlink_metadata(&path)?;
        hasher.update(relative.as_os_str().as_encoded_bytes());
        hasher.update(format!(
            "\0{:o}\0{}\0{}\0{}\0",
            meta.mode(),
            meta.uid(),
            meta.gid(),
            meta.len()
        ));
        if meta.file_type().is_symlink() {
            hasher.update(std::fs::read_link(&path)?.as_os_str().as_encoded_bytes());
        } else if meta.is_file() {
            let mut file = std::fs::File::open(&path)?;
            let mut buffer = vec![0; 256 * 1024];
            loop {
                let n = file.read(&mut buffer)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buffer[..n]);
            }
        }
        hasher.update(b"\n");
    }
    Ok(Sha256::from(<[u8; 32]>::from(hasher.finalize())))
}

/// The newest modification time in a tree: the default `SOURCE_DATE_EPOCH`.
pub(crate) fn newest_mtime(root: &Path) -> anyhow::Result<u64> {
    let mut newest = 0i64;
    for entry in walkdir::WalkDir::new(root).follow_links(false) {
        let meta = entry?.metadata()?;
        newest = newest.max(meta.mtime());
    }
    Ok(newest.max(0) as u64)
}

/// Bytes of regular files in a tree (for the progress bar).
pub(crate) fn tree_size(root: &Path) -> u64 {
    walkdir::WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .filter_map(Result::ok)
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

/// Set owner root and a fixed mode, whatever the umask and the user running the bake.
fn fix(path: &Path, mode: u32) -> std::io::Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    if rustix_is_root() {
        std::os::unix::fs::lchown(path, Some(0), Some(0))?;
    }
    Ok(())
}

fn rustix_is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// Create the parents of `path` (0755, root).
pub(crate) fn make_parents(path: &Path) -> std::io::Result<()> {
    let Some(parent) = path.parent() else {
        return Ok(());
    };
    if parent.is_dir() {
        return Ok(());
    }
    make_parents(parent)?;
    std::fs::create_dir(parent)?;
    fix(parent, 0o755)
}

/// Write a file bake-image makes (0644, root).
pub(crate) fn write_fixed(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    make_parents(path)?;
    // Never write through a hard link to the base.
    let _ = std::fs::remove_file(path);
    std::fs::write(path, contents).with_context(|| format!("writing {}", path.display()))?;
    fix(path, 0o644)?;
    Ok(())
}

/// Copy an overlay tree into the root filesystem: folders 0755, files 0644 (0755 when any execute
/// bit is set), all owned by root; symlinks copied as links. Returns the overlay's digest.
pub(crate) fn copy_overlay(overlay: &Path, rootfs: &Path) -> anyhow::Result<Sha256> {
    if !overlay.is_dir() {
        bail!("--overlay {}: not a folder", overlay.display());
    }
    for relative in crate::archive::sorted_paths(overlay)? {
        if relative.as_os_str().is_empty() {
            continue;
        }
        let from = overlay.join(&relative);
        let to = rootfs.join(&relative);
        let meta = std::fs::symlink_metadata(&from)?;
        if meta.is_dir() {
            if !to.is_dir() {
                make_parents(&to)?;
                std::fs::create_dir(&to).with_context(|| format!("--overlay: creating {}", to.display()))?;
                fix(&to, 0o755)?;
            }
        } else if meta.file_type().is_symlink() {
            make_parents(&to)?;
            let _ = std::fs::remove_file(&to);
            std::os::unix::fs::symlink(std::fs::read_link(&from)?, &to)?;
            if rustix_is_root() {
                std::os::unix::fs::lchown(&to, Some(0), Some(0))?;
            }
        } else if meta.is_file() {
            make_parents(&to)?;
            let _ = std::fs::remove_file(&to);
            std::fs::copy(&from, &to).with_context(|| format!("--overlay: copying {}", from.display()))?;
            fix(&to, if meta.mode() & 0o111 != 0 { 0o755 } else { 0o644 })?;
        } else {
            bail!(
                "--overlay: {}: only folders, files and links can be copied",
                from.display()
            );
        }
    }
    // The digest ignores the overlay's own modes and owners, which the copy does too.
    let mut hasher = sha2::Sha256::new();
    for relative in crate::archive::sorted_paths(overlay)? {
        let path = overlay.join(&relative);
        let meta = std::fs::symlink_metadata(&path)?;
        hasher.update(relative.as_os_str().as_encoded_bytes());
        if meta.file_type().is_symlink() {
            hasher.update(std::fs::read_link(&path)?.as_os_str().as_encoded_bytes());
        } else if meta.is_file() {
            hasher.update([u8::from(meta.mode() & 0o111 != 0)]);
            hasher.update(std::fs::read(&path)?);
        }
        hasher.update(b"\n");
    }
    Ok(Sha256::from(<[u8; 32]>::from(hasher.finalize())))
}

/// Byte-compile the venv with the base's own Python under chroot, as unchecked-hash pycs.
pub(crate) fn compile_bytecode(rootfs: &Path, venv: &crate::install::Venv) -> anyhow::Result<()> {
    let python = format!("/usr/bin/python{}.{}", venv.python.0, venv.python.1);
    let site = format!("{}/{}", venv.prefix, venv.site_packages_rel());
    let out = lastmile_process::output(
        &duct::cmd!(
            "chroot",
            rootfs,
            &python,
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            "--invalidation-mode",
            "unchecked-hash",
            &site
        )
        .env("PYTHONHASHSEED", "0")
        .env("SOURCE_DATE_EPOCH", "0")
        .stderr_to_stdout(),
    )
    .context("running chroot (--compile-bytecode needs root)")?;
    if !out.status.success() {
        bail!(
            "--compile-bytecode: {python} -m compileall failed under chroot: {}",
            String::from_utf8_lossy(&out.stdout).trim()
        );
    }
    // compileall made its folders and files with the umask: fix them.
    for entry in walkdir::WalkDir::new(rootfs.join(site.trim_start_matches('/'))) {
        let entry = entry?;
        let path = entry.path();
        if path.components().any(|c| c.as_os_str() == "__pycache__") {
            fix(path, if entry.file_type().is_dir() { 0o755 } else { 0o644 })?;
        }
    }
    Ok(())
}

//! The root filesystem being baked: the base copied (or unpacked) into a staging folder with
//! owners, modes, hard links and extended attributes intact, and what bake-image adds to it
//! (overlays, systemd units, byte-compiled files, the manifest), all with fixed modes and owners.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use anyhow::{Context, bail};
use lastmile_fs::{Root, Sha256};
use sha2::Digest;

pub(crate) use crate::base_files::BaseFiles;

/// What is known about the base.
#[derive(Debug, Clone)]
pub(crate) struct Base {
    pub(crate) digest: Sha256,
    /// The sha256 of each of the base folder's files, by path, read while digesting it (none for
    /// a tarball base).
    pub(crate) files: BaseFiles,
    pub(crate) os: String,
    /// The OS lock its packages were checked against.
    pub(crate) lock: Option<lastmile_documents::candidate::BaseLock>,
}

/// Copy or unpack `base` into `rootfs` (which must not exist); with `os_lock`, check its
/// Debian packages against that lock. With `cache`, a base folder's file digests are remembered
/// there between bakes ([`crate::base_files`]).
pub(crate) fn prepare(
    base: &Path,
    os_lock: Option<&Path>,
    rootfs: &Path,
    cache: Option<&Path>,
) -> anyhow::Result<Base> {
    let meta = std::fs::metadata(base).with_context(|| format!("--base {}", base.display()))?;
    let (digest, files) = if meta.is_dir() {
        copy_dir(base, rootfs, cache)?
    } else {
        (unpack(base, rootfs)?, BaseFiles::default())
    };
    let root = lastmile_fs::Root::open(rootfs)?;
    for needed in ["etc/os-release", "sbin/init"] {
        if !root.lexists(Path::new(needed)) && !root.lexists(&Path::new("usr").join(needed)) {
            bail!(
                "--base {}: no /{needed}; LXC and Proxmox need it (scripts/base-rootfs makes a base with systemd as init)",
                base.display()
            );
        }
    }
    let lock = match os_lock {
        Some(lock) => Some(crate::oslock::check(lock, base, rootfs)?),
        None => None,
    };
    Ok(Base {
        digest,
        files,
        os: os_release(&root)?,
        lock,
    })
}

/// A folder base into `rootfs`; the digest of the base's own tree, and of each of its files.
fn copy_dir(base: &Path, rootfs: &Path, cache: Option<&Path>) -> anyhow::Result<(Sha256, BaseFiles)> {
    // The base's own tree is digested, not the copy (a copy made by another user has other
    // owners), while cp makes the copy.
    std::thread::scope(|scope| {
        let digest = scope.spawn(|| crate::base_files::tree_digest(base, cache));
        copy_tree(base, rootfs)?;
        digest
            .join()
            .map_err(|_| anyhow::anyhow!("digesting the base failed"))?
    })
}

/// Hard links to the base when it is on the same file system: nothing is copied, and nothing
/// of the base is ever written through them (every file the bake writes is unlinked first and
/// created anew). Else cp -a, which keeps owners, modes, times, hard links, symlinks and xattrs.
fn copy_tree(base: &Path, rootfs: &Path) -> anyhow::Result<()> {
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
    Ok(())
}

/// A tarball base unpacked into `rootfs`; the tarball's sha256.
fn unpack(base: &Path, rootfs: &Path) -> anyhow::Result<Sha256> {
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
    lastmile_fs::Sha256::of_file(base).with_context(|| format!("reading {}", base.display()))
}

/// `debian 12 (bookworm)`, from the base's own os-release (a link resolved inside the base, a
/// regular file of at most 64 KiB).
fn os_release(root: &lastmile_fs::Root) -> anyhow::Result<String> {
    let read = |rel: &str| root.read_text(Path::new(rel), 64 << 10);
    let text = match read("etc/os-release") {
        Ok(text) => text,
        Err(e) if e.is_not_found() => match read("usr/lib/os-release") {
            Ok(text) => text,
            Err(e) if e.is_not_found() => String::new(),
            Err(e) => return Err(e.into()),
        },
        Err(e) => return Err(e.into()),
    };
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .map(|v| v.trim_matches('"').to_owned())
            .unwrap_or_default()
    };
    Ok(format!(
        "{} {} ({})",
        field("ID"),
        field("VERSION_ID"),
        field("VERSION_CODENAME")
    ))
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

/// Write a file bake-image makes (0644), through real folders of the root filesystem only.
pub(crate) fn write_fixed(root: &Root, rel: &Path, contents: &[u8]) -> anyhow::Result<()> {
    root.write(rel, contents, 0o644)?;
    Ok(())
}

/// Copy an overlay tree into the root filesystem: folders 0755, files 0644 (0755 when any execute
/// bit is set), symlinks copied as links; never written through a link of the base. Returns the
/// overlay's digest.
pub(crate) fn copy_overlay(overlay: &Path, root: &Root) -> anyhow::Result<Sha256> {
    if !overlay.is_dir() {
        bail!("--overlay {}: not a folder", overlay.display());
    }
    for relative in crate::tree::sorted_paths(overlay)? {
        if relative.as_os_str().is_empty() {
            continue;
        }
        let from = overlay.join(&relative);
        let meta = std::fs::symlink_metadata(&from)?;
        let context = || format!("--overlay {}: {}", overlay.display(), relative.display());
        if meta.is_dir() {
            root.create_dir_all(&relative).with_context(context)?;
        } else if meta.file_type().is_symlink() {
            root.symlink(&std::fs::read_link(&from)?, &relative)
                .with_context(context)?;
        } else if meta.is_file() {
            let mut out = root
                .create(&relative, if meta.mode() & 0o111 != 0 { 0o755 } else { 0o644 })
                .with_context(context)?;
            std::io::copy(&mut std::fs::File::open(&from)?, &mut out).with_context(context)?;
        } else {
            bail!(
                "--overlay: {}: only folders, files and links can be copied",
                from.display()
            );
        }
    }
    // The digest ignores the overlay's own modes and owners, which the copy does too.
    let mut hasher = sha2::Sha256::new();
    for relative in crate::tree::sorted_paths(overlay)? {
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
pub(crate) fn compile_bytecode(root: &Root, venv: &crate::install::Venv) -> anyhow::Result<()> {
    let rootfs = root.path();
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
    // compileall made its folders and files with the umask: fix them (the venv's folders are
    // real ones the install made, so the walk stays inside the image).
    let site = Path::new(site.trim_start_matches('/'));
    for entry in walkdir::WalkDir::new(rootfs.join(site)).follow_links(false) {
        let entry = entry?;
        let rel = entry.path().strip_prefix(rootfs)?;
        if rel.components().any(|c| c.as_os_str() == "__pycache__") && !entry.path_is_symlink() {
            root.set_mode(rel, if entry.file_type().is_dir() { 0o755 } else { 0o644 })?;
        }
    }
    Ok(())
}

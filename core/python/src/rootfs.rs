//! Reading a target off a base root filesystem: what bake-image bakes for and pin-deps
//! `--target-rootfs` pins for. The base is input like any other: its files are read through
//! [`Root`], so a link resolves inside it (never to the host's file), only regular files are
//! read, and each at most a bounded size.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lastmile_fs::Root;

use crate::target::{Target, TargetError};

/// The most read of the dpkg database (Debian's is a few MiB).
const STATUS_LIMIT: u64 = 256 << 20;
/// The most read of the C library when looking for its version string.
const LIBC_LIMIT: u64 = 64 << 20;

impl Target {
    /// Read the target from a base root filesystem (a folder): the CPython version from
    /// `usr/lib/python3.X` (the full version from the dpkg database when it is there), the glibc
    /// version from the dpkg database or the C library's own version string, and the
    /// architecture from where the C library lives.
    pub fn from_rootfs(root: &Path) -> Result<Self, TargetError> {
        let fail = |what: &str| TargetError::new(format!("{}: {what}", root.display()));
        let rootfs = Root::open(root).map_err(|e| fail(&format!("not a root filesystem ({e})")))?;
        let mut minors: Vec<u8> = rootfs
            .list(Path::new("usr/lib"))
            .map_err(|e| fail(&format!("not a root filesystem ({e})")))?
            .into_iter()
            .filter_map(|name| name.to_str()?.strip_prefix("python3.")?.parse::<u8>().ok())
            .filter(|minor| rootfs.is_file(&PathBuf::from(format!("usr/lib/python3.{minor}/os.py"))))
            .collect();
        minors.sort_unstable();
        let minor = *minors
            .last()
            .ok_or_else(|| fail("no CPython 3 found (usr/lib/python3.X/os.py)"))?;
        let status = match rootfs.read_text(Path::new("var/lib/dpkg/status"), STATUS_LIMIT) {
            Ok(status) => status,
            Err(e) if e.is_not_found() => String::new(),
            Err(e) => return Err(fail(&e.to_string())),
        };
        let python_full = dpkg_version(&status, &format!("python3.{minor}-minimal"))
            .and_then(|v| upstream(&v, 3))
            .unwrap_or_else(|| format!("3.{minor}.0"));
        let (arch, libc) = [
            "x86_64",
            "aarch64",
            "i386",
            "arm",
            "powerpc64le",
            "s390x",
            "riscv64",
        ]
        .iter()
        .flat_map(|arch| {
            let triplet = match *arch {
                "arm" => "arm-linux-gnueabihf".to_owned(),
                "i386" => "i386-linux-gnu".to_owned(),
                other => format!("{other}-linux-gnu"),
            };
            ["lib", "usr/lib"].map(|lib| (*arch, Path::new(lib).join(&triplet).join("libc.so.6")))
        })
        .find(|(_, path)| rootfs.is_file(path))
        .ok_or_else(|| fail("no C library found (lib/ARCH-linux-gnu/libc.so.6)"))?;
        let glibc = match dpkg_version(&status, "libc6").and_then(|v| upstream(&v, 2)) {
            Some(version) => Some(version),
            None => libc_version_string(&rootfs.read(&libc, LIBC_LIMIT).map_err(|e| fail(&e.to_string()))?),
        }
        .ok_or_else(|| {
            fail("cannot tell the glibc version (no dpkg record, no version string in libc.so.6)")
        })?;
        let (major, glibc_minor) = glibc.split_once('.').ok_or_else(|| fail("bad glibc version"))?;
        let parse = |s: &str| {
            s.parse::<u16>()
                .map_err(|_| fail(&format!("bad glibc version {glibc}")))
        };
        Ok(Target {
            python: (3, minor),
            python_full,
            arch: arch.to_owned(),
            glibc: Some((parse(major)?, parse(glibc_minor)?)),
        })
    }
}

/// The `Version:` of an installed package in a dpkg status file.
fn dpkg_version(status: &str, package: &str) -> Option<String> {
    installed(status).remove(package)
}

/// Every installed package of a dpkg status file, name → version (`libc6` → `2.36-9+deb12u4`).
fn installed(status: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for stanza in status.split("\n\n") {
        let mut name = None;
        let mut version = None;
        let mut done = false;
        for line in stanza.lines() {
            if let Some(v) = line.strip_prefix("Package: ") {
                name = Some(v.trim());
            } else if let Some(v) = line.strip_prefix("Version: ") {
                version = Some(v.trim());
            } else if let Some(v) = line.strip_prefix("Status: ") {
                done = v.trim().ends_with(" installed");
            }
        }
        if let (Some(name), Some(version), true) = (name, version, done) {
            out.insert(name.to_owned(), version.to_owned());
        }
    }
    out
}

/// The Debian packages installed in a root filesystem (a folder), name → version, from its dpkg
/// database; `None` when it has none (not a Debian root filesystem).
pub fn installed_debs(root: &Path) -> Result<Option<BTreeMap<String, String>>, TargetError> {
    let fail = |what: &str| TargetError::new(format!("{}: {what}", root.display()));
    let rootfs = Root::open(root).map_err(|e| fail(&format!("not a root filesystem ({e})")))?;
    match rootfs.read_text(Path::new("var/lib/dpkg/status"), STATUS_LIMIT) {
        Ok(status) => Ok(Some(installed(&status))),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(fail(&e.to_string())),
    }
}

/// The first `parts` dotted numbers of a Debian version (`2.36-9+deb12u4` -> `2.36`).
fn upstream(version: &str, parts: usize) -> Option<String> {
    let version = version.split(':').next_back()?;
    let numbers: Vec<&str> = version
        .split(|c: char| !c.is_ascii_digit() && c != '.')
        .next()?
        .split('.')
        .take(parts)
        .collect();
    (numbers.len() == parts && numbers.iter().all(|n| !n.is_empty())).then(|| numbers.join("."))
}

/// glibc prints "... release version 2.36." in its own binary.
fn libc_version_string(bytes: &[u8]) -> Option<String> {
    let marker = b"release version ";
    let at = bytes.windows(marker.len()).position(|w| w == marker)? + marker.len();
    let version: String = bytes[at..]
        .iter()
        .take_while(|b| b.is_ascii_digit() || **b == b'.')
        .map(|b| *b as char)
        .collect();
    let version = version.trim_end_matches('.');
    upstream(version, 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_read_from_a_root_filesystem() {
        let root = tempfile::tempdir().unwrap();
        let put = |rel: &str, data: &[u8]| {
            let path = root.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, data).unwrap();
        };
        put("usr/lib/python3.11/os.py", b"");
        put("usr/lib/python3/dist-packages/x", b"");
        put(
            "lib/x86_64-linux-gnu/libc.so.6",
            b"\x7fELF...GNU C Library (Debian GLIBC 2.36-9) stable release version 2.36.\n",
        );
        let target = Target::from_rootfs(root.path()).unwrap();
        assert_eq!(
            (target.python_option(), target.platform_option()),
            ("3.11".into(), "x86_64-manylinux_2_36".into())
        );
        assert_eq!(target.python_full, "3.11.0");
        put(
            "var/lib/dpkg/status",
            b"Package: libc6\nStatus: install ok installed\nVersion: 2.37-1\n\n\
Package: python3.11-minimal\nStatus: install ok installed\nVersion: 3.11.2-6+deb12u1\n",
        );
        let target = Target::from_rootfs(root.path()).unwrap();
        assert_eq!(target.glibc, Some((2, 37)));
        assert_eq!(target.python_full, "3.11.2");
        let empty = tempfile::tempdir().unwrap();
        assert!(
            Target::from_rootfs(empty.path())
                .unwrap_err()
                .to_string()
                .contains("not a root filesystem")
        );
    }
}

//! `--os-lock`: the base's Debian packages checked against the OS lock it was built from
//! (`pin-deps os-lock`, `scripts/base-from-lock`), package by package, and recorded in the
//! manifest and the SBOM with the sha256 of each `.deb` and the roles that asked for it.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};
use lastmile_documents::Document;
use lastmile_documents::base::{BASE_PATH, BaseRecord};
use lastmile_documents::candidate::{BaseLock, DebPackage};
use lastmile_documents::oslock::{OsLock, OsSet};
use lastmile_fs::{Root, Sha256};

/// At most this many differences are named in a refusal.
const SHOWN: usize = 12;

/// The lock `lock_path` as the base in `rootfs` (given as `base`) matches it: exactly its image
/// set installed, each at its locked version; refused, naming the differences, otherwise.
pub(crate) fn check(lock_path: &Path, base: &Path, rootfs: &Path) -> anyhow::Result<BaseLock> {
    let text =
        std::fs::read_to_string(lock_path).with_context(|| format!("--os-lock {}", lock_path.display()))?;
    let lock = OsLock::from_json(&text, &lock_path.display().to_string())?;
    let sha256 = Sha256::of(text.as_bytes());
    let installed = lastmile_python::installed_debs(rootfs)?.ok_or_else(|| {
        anyhow::anyhow!(
            "--base {}: no dpkg database (var/lib/dpkg/status), so it cannot be checked against --os-lock {}",
            base.display(),
            lock_path.display()
        )
    })?;
    let image: Vec<_> = lock.packages.iter().filter(|p| p.set == OsSet::Image).collect();
    let locked: BTreeMap<&str, &str> = image
        .iter()
        .map(|p| (p.name.as_str(), p.version.as_str()))
        .collect();
    let differences = differences(&locked, &installed);
    if !differences.is_empty() {
        let more = differences.len().saturating_sub(SHOWN);
        let mut shown = differences
            .into_iter()
            .take(SHOWN)
            .collect::<Vec<_>>()
            .join("\n  ");
        if more > 0 {
            shown.push_str(&format!("\n  ... and {more} more"));
        }
        bail!(
            "--base {} is not what --os-lock {} locks:\n  {shown}\n(build the base from the lock: scripts/base-from-lock {})",
            base.display(),
            lock_path.display(),
            lock_path.display()
        );
    }
    let built_with = built_with(rootfs, &sha256, base, lock_path)?;
    let packages = image
        .into_iter()
        .map(|p| DebPackage {
            name: p.name.clone(),
            version: p.version.clone(),
            architecture: p.architecture.clone(),
            sha256: p.sha256,
            roles: p.roles.clone(),
        })
        .collect();
    Ok(BaseLock {
        sha256,
        built_with,
        packages,
    })
}

/// Each package locked but not installed, installed but not locked, or at another version.
fn differences(locked: &BTreeMap<&str, &str>, installed: &BTreeMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    for (name, version) in locked {
        match installed.get(*name) {
            None => out.push(format!("{name} {version}: locked, not installed")),
            Some(got) if got != version => {
                out.push(format!("{name}: {got} installed, {version} locked"));
            }
            Some(_) => {}
        }
    }
    for (name, version) in installed {
        if !locked.contains_key(name.as_str()) {
            out.push(format!("{name} {version}: installed, not locked"));
        }
    }
    out
}

/// The host tools that built the base, from its own record; a record of another lock is refused.
fn built_with(
    rootfs: &Path,
    sha256: &Sha256,
    base: &Path,
    lock_path: &Path,
) -> anyhow::Result<BTreeMap<String, String>> {
    let root = Root::open(rootfs)?;
    let text = match root.read_text(Path::new(BASE_PATH), 1 << 20) {
        Ok(text) => text,
        Err(e) if e.is_not_found() => return Ok(BTreeMap::new()),
        Err(e) => return Err(e).with_context(|| format!("--base {}: /{BASE_PATH}", base.display())),
    };
    let record = BaseRecord::from_json(&text, &format!("{}: /{BASE_PATH}", base.display()))?;
    if record.os_lock != *sha256 {
        bail!(
            "--base {} was built from the OS lock with sha256 {} (its /{BASE_PATH}), not from --os-lock {} ({sha256})",
            base.display(),
            record.os_lock,
            lock_path.display()
        );
    }
    Ok(record.built_with)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_difference_is_named() {
        let locked = BTreeMap::from([
            ("libc6", "2.36-9+deb12u13"),
            ("nginx", "1.22.1-9"),
            ("apt", "2.6.1"),
        ]);
        let installed = BTreeMap::from([
            ("libc6".to_owned(), "2.36-9+deb12u14".to_owned()),
            ("apt".to_owned(), "2.6.1".to_owned()),
            ("vim".to_owned(), "2:9.0".to_owned()),
        ]);
        assert_eq!(
            differences(&locked, &installed),
            [
                "libc6: 2.36-9+deb12u14 installed, 2.36-9+deb12u13 locked",
                "nginx 1.22.1-9: locked, not installed",
                "vim 2:9.0: installed, not locked",
            ]
        );
        let same = BTreeMap::from([("apt".to_owned(), "2.6.1".to_owned())]);
        assert!(differences(&BTreeMap::from([("apt", "2.6.1")]), &same).is_empty());
    }
}

//! What a re-lock moved, for review: packages added, removed and moved from one version to
//! another, per set, as `pin-deps diff` shows a re-pin.

use std::collections::BTreeMap;

use lastmile_documents::oslock::{OsLock, OsSet};

/// One line per change, sorted by package: `+ name version (set: roles)`, `- name version`,
/// `~ name old -> new`; empty when nothing moved.
pub(crate) fn changes(old: &OsLock, new: &OsLock) -> Vec<String> {
    let key = |lock: &OsLock| -> BTreeMap<(String, String), (String, OsSet, Vec<String>)> {
        lock.packages
            .iter()
            .map(|p| {
                (
                    (p.name.clone(), p.architecture.clone()),
                    (p.version.clone(), p.set, p.roles.clone()),
                )
            })
            .collect()
    };
    let (old, new) = (key(old), key(new));
    let set = |s: OsSet| match s {
        OsSet::Image => "image",
        OsSet::Build => "build",
    };
    let mut out = Vec::new();
    for ((name, arch), (version, s, roles)) in &new {
        match old.get(&(name.clone(), arch.clone())) {
            None => out.push(format!("+ {name} {version} ({}: {})", set(*s), roles.join(", "))),
            Some((was, _, _)) if was != version => out.push(format!("~ {name} {was} -> {version}")),
            Some(_) => {}
        }
    }
    for ((name, arch), (version, _, _)) in &old {
        if !new.contains_key(&(name.clone(), arch.clone())) {
            out.push(format!("- {name} {version}"));
        }
    }
    out.sort_by(|a, b| a[2..].cmp(&b[2..]));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use lastmile_documents::oslock::OsPackage;
    use lastmile_fs::Sha256;

    fn lock(packages: &[(&str, &str, OsSet, &str)]) -> OsLock {
        OsLock {
            schema: lastmile_documents::oslock::SCHEMA.to_owned(),
            architecture: "amd64".to_owned(),
            indexes: Vec::new(),
            packages: packages
                .iter()
                .map(|(name, version, set, role)| OsPackage {
                    name: (*name).to_owned(),
                    version: (*version).to_owned(),
                    architecture: "amd64".to_owned(),
                    sha256: Sha256::of(version.as_bytes()),
                    size: 1,
                    filename: format!("pool/{name}.deb"),
                    index: "i".to_owned(),
                    set: *set,
                    roles: vec![(*role).to_owned()],
                })
                .collect(),
        }
    }

    #[test]
    fn added_removed_and_moved_packages_are_each_named_once() {
        let old = lock(&[
            ("libc6", "2.36-9+deb12u13", OsSet::Image, "base"),
            ("perl", "5.36", OsSet::Image, "base"),
            ("apt", "2.6.1", OsSet::Image, "base"),
        ]);
        let new = lock(&[
            ("libc6", "2.36-9+deb12u14", OsSet::Image, "base"),
            ("nginx", "1.22.1-9", OsSet::Image, "portal"),
            ("apt", "2.6.1", OsSet::Image, "base"),
        ]);
        assert_eq!(
            changes(&old, &new),
            [
                "~ libc6 2.36-9+deb12u13 -> 2.36-9+deb12u14",
                "+ nginx 1.22.1-9 (image: portal)",
                "- perl 5.36",
            ]
        );
        assert!(changes(&new, &new).is_empty());
    }
}

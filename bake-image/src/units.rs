//! The base's units no node uses, masked in the image, so that a node boots only what it needs:
//! a Debian base is made for a machine people log into and keep up to date by hand (apt's daily
//! timers, a login prompt on the console, file system scrubbing, utmp records), which an
//! immutable node running on a shared host is not. Every node of every environment boots the
//! image, so what it starts for nothing costs CPU on each boot of each node.
//!
//! A services file's `[units]` changes the list: `mask = [...]` masks more units of the base,
//! `keep = [...]` keeps one of the defaults. A unit the candidate runs cannot be masked; a unit
//! named in `mask` that the base does not have is refused (a typo); a default the base does not
//! have is left alone. The manifest lists what was masked (`masked_units`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::bail;
use lastmile_documents::candidate::Service;
use lastmile_fs::Root;

/// Masked unless a services file keeps them.
pub(crate) const DEFAULT: &[&str] = &[
    "apt-daily-upgrade.timer",
    "apt-daily.timer",
    "console-getty.service",
    "dpkg-db-backup.timer",
    "e2scrub_all.timer",
    "e2scrub_reap.service",
    "fstrim.timer",
    "getty@tty1.service",
    "man-db.timer",
    "systemd-pstore.service",
    "systemd-update-utmp-runlevel.service",
    "systemd-update-utmp.service",
];

/// Where a base keeps its unit files, inside the image.
const UNIT_DIRS: &[&str] = &[
    "etc/systemd/system",
    "usr/lib/systemd/system",
    "lib/systemd/system",
];
const ETC: &str = "etc/systemd/system";

/// A services file's `[units]`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UnitsTable {
    /// More units to mask.
    #[serde(default)]
    pub(crate) mask: Vec<String>,
    /// Defaults not to mask.
    #[serde(default)]
    pub(crate) keep: Vec<String>,
}

/// What to mask: the defaults, less those kept, and those added (with where each was named).
#[derive(Debug, Default)]
pub(crate) struct Masking {
    added: BTreeMap<String, String>,
    kept: BTreeSet<String>,
}

impl Masking {
    /// Add a services file's `[units]`, `origin` naming the file.
    pub(crate) fn add(&mut self, table: UnitsTable, origin: &str) -> anyhow::Result<()> {
        for unit in table.mask.iter().chain(&table.keep) {
            let named = unit.len() <= 128
                && unit.contains('.')
                && !unit.starts_with('.')
                && unit
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.@:".contains(c));
            if !named {
                bail!("{origin}: units: {unit:?} is not a unit name (NAME.service, NAME.timer, ...)");
            }
        }
        for unit in table.mask {
            self.added.entry(unit).or_insert_with(|| origin.to_owned());
        }
        self.kept.extend(table.keep);
        Ok(())
    }
}

/// The unit file of `unit` in the base (a template's for an instance, `getty@.service` for
/// `getty@tty1.service`), if it has one.
fn in_base(root: &Root, unit: &str) -> bool {
    let template = unit.split_once('@').map(|(name, rest)| {
        let kind = rest.rsplit_once('.').map_or("", |(_, kind)| kind);
        format!("{name}@.{kind}")
    });
    UNIT_DIRS.iter().any(|dir| {
        root.lexists(&Path::new(dir).join(unit))
            || template
                .as_ref()
                .is_some_and(|t| root.lexists(&Path::new(dir).join(t)))
    })
}

/// Mask every unit `masking` names that the base has: `/etc/systemd/system/UNIT` linked to
/// `/dev/null`, and the links that enabled it removed. The masked units, sorted.
pub(crate) fn mask(
    root: &Root,
    masking: &Masking,
    services: &BTreeMap<String, Service>,
) -> anyhow::Result<Vec<String>> {
    let mut units: BTreeSet<String> = DEFAULT
        .iter()
        .filter(|u| !masking.kept.contains(**u) && in_base(root, u))
        .map(|u| (*u).to_owned())
        .collect();
    for (unit, origin) in &masking.added {
        if !in_base(root, unit) {
            bail!(
                "{origin}: units.mask: the base has no unit {unit} (its units are under /lib/systemd/system)"
            );
        }
        units.insert(unit.clone());
    }
    if let Some(unit) = units.iter().find(|u| {
        u.strip_suffix(".service")
            .is_some_and(|n| services.contains_key(n))
    }) {
        let origin = masking.added.get(unit).map_or("the defaults", String::as_str);
        bail!("{origin}: units: {unit} is a service of the candidate; it cannot be masked");
    }
    let etc = Path::new(ETC);
    let wants: Vec<std::ffi::OsString> = root
        .list(etc)
        .unwrap_or_default()
        .into_iter()
        .filter(|n| {
            let n = n.to_string_lossy();
            n.ends_with(".wants") || n.ends_with(".requires")
        })
        .collect();
    for unit in &units {
        let path = etc.join(unit);
        if root.lexists(&path) {
            root.remove_file(&path)?;
        }
        root.symlink(Path::new("/dev/null"), &path)?;
        for dir in &wants {
            let link = etc.join(dir).join(unit);
            if root.lexists(&link) {
                root.remove_file(&link)?;
            }
        }
    }
    Ok(units.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> (tempfile::TempDir, Root) {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in [
            ("lib/systemd/system/apt-daily.timer", "[Timer]\n"),
            ("lib/systemd/system/getty@.service", "[Service]\n"),
            ("lib/systemd/system/cron.service", "[Service]\n"),
        ] {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let wants = dir.path().join("etc/systemd/system/timers.target.wants");
        std::fs::create_dir_all(&wants).unwrap();
        std::os::unix::fs::symlink(
            "/lib/systemd/system/apt-daily.timer",
            wants.join("apt-daily.timer"),
        )
        .unwrap();
        let root = Root::open(dir.path()).unwrap();
        (dir, root)
    }

    #[test]
    fn defaults_the_base_has_are_masked_and_no_longer_enabled() {
        let (dir, root) = base();
        let masked = mask(&root, &Masking::default(), &BTreeMap::new()).unwrap();
        assert_eq!(masked, ["apt-daily.timer", "getty@tty1.service"]);
        let etc = dir.path().join("etc/systemd/system");
        assert_eq!(
            std::fs::read_link(etc.join("apt-daily.timer")).unwrap(),
            Path::new("/dev/null")
        );
        assert!(!etc.join("timers.target.wants/apt-daily.timer").exists());
        assert!(std::fs::symlink_metadata(etc.join("timers.target.wants/apt-daily.timer")).is_err());
    }

    #[test]
    fn a_services_file_adds_and_keeps_and_a_unit_the_base_lacks_is_refused() {
        let (_dir, root) = base();
        let mut masking = Masking::default();
        masking
            .add(
                UnitsTable {
                    mask: vec!["cron.service".into()],
                    keep: vec!["getty@tty1.service".into()],
                },
                "services.toml",
            )
            .unwrap();
        assert_eq!(
            mask(&root, &masking, &BTreeMap::new()).unwrap(),
            ["apt-daily.timer", "cron.service"]
        );
        let mut typo = Masking::default();
        typo.add(
            UnitsTable {
                mask: vec!["cron.servcie".into()],
                keep: Vec::new(),
            },
            "services.toml",
        )
        .unwrap();
        let err = mask(&root, &typo, &BTreeMap::new()).unwrap_err().to_string();
        assert!(
            err.contains("services.toml: units.mask: the base has no unit cron.servcie"),
            "{err}"
        );
        let mut bad = Masking::default();
        let err = bad
            .add(
                UnitsTable {
                    mask: vec!["../../x".into()],
                    keep: Vec::new(),
                },
                "services.toml",
            )
            .unwrap_err()
            .to_string();
        assert!(err.contains("is not a unit name"), "{err}");
    }
}

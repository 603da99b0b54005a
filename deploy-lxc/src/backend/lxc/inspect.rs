//! What a node of this host holds, read from the host without entering it: the image its
//! config's root filesystem is made from, its `node.env` and enabled roles, and (over overlay)
//! every file of the image it changed, added or removed, from its own layer. What a healthy node
//! writes while it runs (logs, state under `/var`, `/tmp`, bytecode caches, its machine id) is
//! not a change of the image.

use std::collections::BTreeSet;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use lastmile_fs::Sha256;

use crate::backend::{Changed, Inspection};

/// Where a node's files are: its own layer over the image, or its own copy.
pub(super) enum Layers {
    Overlay { lower: PathBuf, upper: PathBuf },
    Copy { rootfs: PathBuf },
}

/// The role targets and their links.
const WANTS: &str = "etc/systemd/system/multi-user.target.wants";
const UNITS: &str = "etc/systemd/system";

/// Paths a running node writes by itself, as prefixes of paths relative to its root.
const RUNTIME: &[&str] = &["var/", "tmp/", "run/", "root/", "home/", "dev/", "proc/", "sys/"];
/// Files deploy-lxc writes into every node, or that systemd writes at its first boot.
const WRITTEN: &[&str] = &[
    "etc/lastmile/node.env",
    "etc/hostname",
    "etc/machine-id",
    "etc/.pwd.lock",
];

/// An overlay whiteout: a character device 0:0 in the upper layer hides the lower file.
fn whiteout(meta: &std::fs::Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

/// A file as the node sees it: `None` when it does not have it.
fn read(layers: &Layers, rel: &str) -> Option<String> {
    match layers {
        Layers::Copy { rootfs } => std::fs::read_to_string(rootfs.join(rel)).ok(),
        Layers::Overlay { lower, upper } => match std::fs::symlink_metadata(upper.join(rel)) {
            Ok(meta) if whiteout(&meta) => None,
            Ok(_) => std::fs::read_to_string(upper.join(rel)).ok(),
            Err(_) => std::fs::read_to_string(lower.join(rel)).ok(),
        },
    }
}

/// The names in a folder as the node sees it.
fn names(layers: &Layers, rel: &str) -> BTreeSet<String> {
    let list = |dir: &Path| -> Vec<(String, std::fs::Metadata)> {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| Some((e.file_name().into_string().ok()?, e.metadata().ok()?)))
            .collect()
    };
    match layers {
        Layers::Copy { rootfs } => list(&rootfs.join(rel)).into_iter().map(|(n, _)| n).collect(),
        Layers::Overlay { lower, upper } => {
            let mut seen: BTreeSet<String> = list(&lower.join(rel)).into_iter().map(|(n, _)| n).collect();
            for (name, meta) in list(&upper.join(rel)) {
                if whiteout(&meta) {
                    seen.remove(&name);
                } else {
                    seen.insert(name);
                }
            }
            seen
        }
    }
}

/// `lastmile-role-ROLE.target` names to roles.
fn roles(names: BTreeSet<String>) -> BTreeSet<String> {
    names
        .into_iter()
        .filter_map(|n| {
            n.strip_prefix("lastmile-role-")
                .and_then(|r| r.strip_suffix(".target"))
                .map(str::to_owned)
        })
        .collect()
}

/// Every file of the image the node's own layer changes, adds or removes.
fn changed(lower: &Path, upper: &Path) -> anyhow::Result<Vec<Changed>> {
    let mut changed = Vec::new();
    for entry in walkdir::WalkDir::new(upper).min_depth(1).sort_by_file_name() {
        let entry = entry.with_context(|| format!("reading {}", upper.display()))?;
        if entry.file_type().is_dir() {
            continue;
        }
        let rel = entry
            .path()
            .strip_prefix(upper)
            .expect("walkdir stays under its root")
            .to_string_lossy()
            .into_owned();
        let wants_role = rel.starts_with(WANTS) && rel.contains("/lastmile-role-");
        if RUNTIME.iter().any(|p| rel.starts_with(p))
            || WRITTEN.contains(&rel.as_str())
            || wants_role
            || rel.contains("/__pycache__/")
        {
            continue;
        }
        let meta = entry
            .metadata()
            .with_context(|| format!("reading {}", entry.path().display()))?;
        let kind = if whiteout(&meta) {
            "removed"
        } else if std::fs::symlink_metadata(lower.join(&rel)).is_ok() {
            "changed"
        } else {
            "added"
        };
        changed.push(Changed {
            path: format!("/{rel}"),
            kind,
        });
    }
    Ok(changed)
}

/// What the node of these layers holds; `image` from its config.
pub(super) fn inspect(image: Option<Sha256>, layers: &Layers) -> anyhow::Result<Inspection> {
    let changed = match layers {
        Layers::Overlay { lower, upper } => Some(changed(lower, upper)?),
        Layers::Copy { .. } => None,
    };
    Ok(Inspection {
        image,
        node_env: read(layers, "etc/lastmile/node.env"),
        enabled_roles: roles(names(layers, WANTS)),
        image_roles: roles(names(layers, UNITS)),
        changed,
    })
}

/// The image a container's config makes its root filesystem from: the digest named by the
/// folder of `lxc.rootfs.path` (`overlay:IMAGES/<sha256>:UPPER`), and the layers.
pub(super) fn layers_of(config: &str) -> Option<(Option<Sha256>, Layers)> {
    let path = config
        .lines()
        .find_map(|l| l.trim().strip_prefix("lxc.rootfs.path"))?
        .trim_start()
        .strip_prefix('=')?
        .trim();
    let digest_of = |dir: &Path| {
        dir.file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.parse::<Sha256>().ok())
    };
    if let Some(rest) = path.strip_prefix("overlay:") {
        let (lower, upper) = rest.split_once(':')?;
        let lower = PathBuf::from(lower);
        return Some((
            digest_of(&lower),
            Layers::Overlay {
                lower,
                upper: PathBuf::from(upper),
            },
        ));
    }
    // A copy names no image folder; the config's heading comment names the image.
    let named = config
        .lines()
        .take_while(|l| l.starts_with('#'))
        .find_map(|l| l.split(", image ").nth(1))
        .and_then(|rest| rest.trim_end_matches('.').parse::<Sha256>().ok());
    let rootfs = PathBuf::from(path.strip_prefix("dir:").unwrap_or(path));
    Some((named, Layers::Copy { rootfs }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nodes_own_layer_says_what_it_changed_and_its_config_which_image() {
        let dir = tempfile::tempdir().unwrap();
        let (lower, upper) = (dir.path().join("lower"), dir.path().join("upper"));
        let write = |root: &Path, rel: &str, text: &str| {
            std::fs::create_dir_all(root.join(rel).parent().unwrap()).unwrap();
            std::fs::write(root.join(rel), text).unwrap();
        };
        write(&lower, "opt/venv/katcore/__init__.py", "X = 1\n");
        write(&lower, "usr/bin/tool", "tool\n");
        write(&lower, "etc/systemd/system/lastmile-role-sim.target", "[Unit]\n");
        write(
            &lower,
            "etc/systemd/system/lastmile-role-monctl.target",
            "[Unit]\n",
        );
        write(&upper, "opt/venv/katcore/__init__.py", "X = 2\n");
        write(&upper, "opt/venv/extra.py", "\n");
        write(&upper, "opt/venv/katcore/__pycache__/x.pyc", "");
        write(&upper, "var/log/syslog", "log\n");
        write(&upper, "etc/lastmile/node.env", "LASTMILE_NODE=sim\n");
        std::fs::create_dir_all(upper.join(WANTS)).unwrap();
        std::os::unix::fs::symlink(
            "/etc/systemd/system/lastmile-role-sim.target",
            upper.join(WANTS).join("lastmile-role-sim.target"),
        )
        .unwrap();
        let digest = Sha256::of(b"image");
        let config = format!(
            "# lastmile-environment = lab\nlxc.rootfs.path = overlay:{}/{digest}:{}\n",
            dir.path().display(),
            upper.display()
        );
        let (image, _) = layers_of(&config).unwrap();
        assert_eq!(image, Some(digest));
        let layers = Layers::Overlay { lower, upper };
        let seen = inspect(image, &layers).unwrap();
        assert_eq!(seen.node_env.as_deref(), Some("LASTMILE_NODE=sim\n"));
        assert_eq!(seen.enabled_roles, BTreeSet::from(["sim".to_owned()]));
        assert_eq!(seen.image_roles.len(), 2);
        let changed: Vec<(String, &str)> = seen
            .changed
            .unwrap()
            .into_iter()
            .map(|c| (c.path, c.kind))
            .collect();
        assert_eq!(
            changed,
            [
                ("/opt/venv/extra.py".to_owned(), "added"),
                ("/opt/venv/katcore/__init__.py".to_owned(), "changed"),
            ]
        );
        let copy = format!(
            "# Written by deploy-lxc: node sim of environment lab, image {digest}.\nlxc.rootfs.path = dir:/x/rootfs\n"
        );
        assert_eq!(layers_of(&copy).unwrap().0, Some(digest));
    }
}

//! Addresses from an environment's `[pool]`, claimed per instance on this host, so that two
//! instances of one environment (two CI builds at once, each with its own state folder) never
//! share an address. A claim is a file named by the address in the host's pool folder
//! (`LASTMILE_POOL_DIR`, default `/var/lib/lastmile/pool`), made with `O_EXCL` (two claimers of
//! one address: one wins), holding who claimed it. An instance keeps its claims from one apply
//! to the next and gives them back when it is destroyed. A claim whose instance is gone (its
//! state folder holds no state for it and no deploy-lxc holds its lock) is taken over, with a
//! warning: a workspace deleted without `destroy` does not leak addresses for ever.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};

use crate::env::Environment;
use crate::state::State;

/// The host's pool folder.
pub fn dir() -> PathBuf {
    std::env::var_os("LASTMILE_POOL_DIR")
        .map_or_else(|| PathBuf::from("/var/lib/lastmile/pool"), PathBuf::from)
}

/// Who holds an address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Claim {
    /// The instance (`lab.ci-42`, or `lab`).
    environment: String,
    node: String,
    /// The instance's state folder (absolute).
    state_dir: PathBuf,
}

impl Claim {
    fn read(path: &Path) -> Option<Claim> {
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
    }

    /// Its instance is gone: no state, and nobody holds its lock.
    fn stale(&self) -> bool {
        let environments = self.state_dir.join("environments");
        if environments.join(format!("{}.json", self.environment)).exists() {
            return false;
        }
        let Ok(lock) = std::fs::File::open(environments.join(format!("{}.lock", self.environment))) else {
            return true;
        };
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_ok()
    }
}

/// The address each pooled node of `env` has: the one its instance claimed before (recorded in
/// the state's newest generation) or a free one of the pool, claimed now. Called with the
/// instance's lock held. Nodes with an address of their own are not in the map.
pub fn claim(
    folder: &Path,
    env: &Environment,
    state: &State,
    state_dir: &Path,
) -> anyhow::Result<BTreeMap<String, Ipv4Addr>> {
    let Some(pool) = env.pool else {
        return Ok(BTreeMap::new());
    };
    std::fs::create_dir_all(folder)
        .with_context(|| format!("creating the pool folder {}", folder.display()))?;
    let recorded = recorded(state);
    let mut claimed = BTreeMap::new();
    for node in env.nodes.iter().filter(|n| n.pooled) {
        let ours = Claim {
            environment: env.key(),
            node: node.name.clone(),
            state_dir: state_dir.to_path_buf(),
        };
        let before = recorded
            .get(node.name.as_str())
            .filter(|a| pool.addresses().any(|p| p == **a));
        let address = before
            .into_iter()
            .copied()
            .chain(pool.addresses())
            .find_map(|address| take(folder, address, &ours).transpose())
            .transpose()?;
        let Some(address) = address else {
            bail!(
                "{}: pool {pool} has no free address for node {} (each of its {} is claimed; {} lists who holds them, and `deploy-lxc destroy --instance NAME` gives an instance's back)",
                env.file,
                node.name,
                pool.size(),
                folder.display()
            );
        };
        claimed.insert(node.name.clone(), address);
    }
    Ok(claimed)
}

/// Claim `address` for `ours`: `Some` when it is ours now (new, ours already, or taken over from
/// an instance that is gone), `None` when another instance holds it.
fn take(folder: &Path, address: Ipv4Addr, ours: &Claim) -> anyhow::Result<Option<Ipv4Addr>> {
    let path = folder.join(address.to_string());
    let text = serde_json::to_string(ours).expect("a claim serializes");
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
    {
        Ok(mut file) => {
            file.write_all(text.as_bytes())
                .and_then(|()| file.sync_all())
                .with_context(|| format!("writing {}", path.display()))?;
            return Ok(Some(address));
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("claiming {}", path.display())),
    }
    match Claim::read(&path) {
        Some(claim) if claim == *ours => Ok(Some(address)),
        // Another node of this instance.
        Some(claim) if claim.environment == ours.environment && claim.state_dir == ours.state_dir => Ok(None),
        Some(claim) if claim.stale() => {
            tracing::warn!(
                "{address}: claimed by {} (node {}) of {}, which is gone; taken over",
                claim.environment,
                claim.node,
                claim.state_dir.display()
            );
            lastmile_fs::write_atomic(&path, text.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            Ok(Some(address))
        }
        // Unreadable: being written by its claimer this moment, or not ours to touch.
        _ => Ok(None),
    }
}

/// The addresses the newest generation of the state gave its nodes.
fn recorded(state: &State) -> BTreeMap<&str, Ipv4Addr> {
    state
        .generations
        .iter()
        .max_by_key(|g| g.number)
        .map(|g| g.nodes.iter().map(|n| (n.name.as_str(), n.address)).collect())
        .unwrap_or_default()
}

/// Give back every address this instance claimed; how many.
pub fn release(folder: &Path, env: &Environment, state_dir: &Path) -> anyhow::Result<usize> {
    if env.pool.is_none() {
        return Ok(0);
    }
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Ok(0);
    };
    let mut released = 0;
    for entry in entries {
        let path = entry?.path();
        if let Some(claim) = Claim::read(&path)
            && claim.environment == env.key()
            && claim.state_dir == state_dir
        {
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e).with_context(|| format!("removing {}", path.display()));
                }
                _ => released += 1,
            }
        }
    }
    Ok(released)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(instance: &str) -> Environment {
        let mut env = crate::env::parse(
            "name = \"lab\"\nbackend = \"lxc\"\n[pool]\naddresses = \"127.77.9.2-127.77.9.4\"\n\
             [nodes.a]\n[nodes.b]\n[nodes.c]\nnetwork = \"empty\"\n",
            "lab.toml",
        )
        .unwrap();
        env.instance = Some(instance.to_owned());
        env
    }

    #[test]
    fn instances_never_share_an_address_and_keep_theirs() {
        let pool = tempfile::tempdir().unwrap();
        let pool = pool.path();
        let states = tempfile::tempdir().unwrap();
        let (one, two) = (env("one"), env("two"));
        let (dir_one, dir_two) = (states.path().join("1"), states.path().join("2"));
        let empty = State::new("lab", lastmile_documents::deployment::Backend::Lxc);
        // Instance one is alive: its lock is held.
        std::fs::create_dir_all(dir_one.join("environments")).unwrap();
        let held = crate::lock::lock_file(&dir_one.join("environments/lab.one.lock"), "one").unwrap();
        let first = claim(pool, &one, &empty, &dir_one).unwrap();
        assert_eq!(first.len(), 2, "the isolated node takes none");
        assert_eq!(
            claim(pool, &one, &empty, &dir_one).unwrap(),
            first,
            "its own again"
        );
        let err = claim(pool, &two, &empty, &dir_two).unwrap_err().to_string();
        assert!(
            err.contains("pool 127.77.9.2-127.77.9.4 has no free address for node b"),
            "{err}"
        );
        // Given back, the other instance gets them.
        assert_eq!(release(pool, &two, &dir_two).unwrap(), 1, "its one claim");
        assert_eq!(release(pool, &one, &dir_one).unwrap(), 2);
        let second = claim(pool, &two, &empty, &dir_two).unwrap();
        assert_eq!(
            second.values().collect::<Vec<_>>(),
            first.values().collect::<Vec<_>>()
        );
        // An instance that is gone (no state, lock free) loses its claims to the next.
        drop(held);
        let third = claim(pool, &one, &empty, &dir_one).unwrap();
        assert_eq!(third, second);
    }
}

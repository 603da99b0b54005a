//! Locks on files, held until dropped or the process ends (also when it is killed): one deploy
//! of an environment at a time, one change of the image store at a time, and the store's images
//! kept while any deploy-lxc uses it (shared; pruning needs it alone).

use std::io::{Seek, Write};
use std::path::Path;

use anyhow::{Context, bail};

/// An exclusive lock on a file, held until dropped (or the process ends).
#[derive(Debug)]
pub struct Lock {
    _file: std::fs::File,
}

fn open(path: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))
}

/// Lock `path`, waiting for whoever holds it (a change of the image store takes seconds).
pub fn wait_for(path: &Path) -> anyhow::Result<Lock> {
    let file = open(path)?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
        .map_err(std::io::Error::from)
        .with_context(|| format!("locking {}", path.display()))?;
    Ok(Lock { _file: file })
}

/// A shared lock on `path`, held while this process uses what it guards; waits only for an
/// exclusive holder.
pub fn shared(path: &Path) -> anyhow::Result<Lock> {
    let file = open(path)?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockShared)
        .map_err(std::io::Error::from)
        .with_context(|| format!("locking {}", path.display()))?;
    Ok(Lock { _file: file })
}

impl Lock {
    /// Make this lock exclusive if no other process holds it; false (and still held shared, or
    /// not at all) when one does.
    pub fn try_exclusive(&self) -> anyhow::Result<bool> {
        match rustix::fs::flock(&self._file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(true),
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => Ok(false),
            Err(e) => Err(std::io::Error::from(e).into()),
        }
    }
}

/// Lock `path` without waiting; the message names `what` and the process holding it.
pub fn lock_file(path: &Path, what: &str) -> anyhow::Result<Lock> {
    let mut file = open(path)?;
    if let Err(e) = rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        if e == rustix::io::Errno::WOULDBLOCK {
            let holder = lastmile_fs::read_text_limited_path(path, 64).unwrap_or_default();
            let holder = match holder.trim() {
                "" => String::new(),
                pid => format!(" (pid {pid})"),
            };
            bail!("{what} is being deployed by another deploy-lxc{holder}; wait for it to finish");
        }
        return Err(std::io::Error::from(e)).with_context(|| format!("locking {}", path.display()));
    }
    file.set_len(0)?;
    file.rewind()?;
    writeln!(file, "{}", std::process::id())?;
    Ok(Lock { _file: file })
}

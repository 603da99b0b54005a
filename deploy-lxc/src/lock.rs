//! Exclusive locks on files, held until dropped or the process ends (also when it is killed):
//! one deploy of an environment at a time, one change of the image store at a time.

use std::io::{Seek, Write};
use std::path::Path;

use anyhow::{Context, bail};

/// An exclusive lock on a file, held until dropped (or the process ends).
#[derive(Debug)]
pub struct Lock {
    _file: std::fs::File,
}

/// Lock `path` without waiting; the message names `what` and the process holding it.
pub fn lock_file(path: &Path, what: &str) -> anyhow::Result<Lock> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    if let Err(e) = rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        if e == rustix::io::Errno::WOULDBLOCK {
            let holder = std::fs::read_to_string(path).unwrap_or_default();
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

//! The sha256 of input files remembered between bakes, so a file that did not change is not read
//! again to name it.
//!
//! Every bake names its inputs by digest: each file of the base (for the base's digest, and for
//! the archive, which names the base's files by their sha256 instead of reading them), and each
//! wheel (checked against its pin). Reading 300 MB of unchanged inputs for that is most of a
//! bake that compresses nothing, so the digests are remembered in the cache
//! (`CACHE/file-digests/<set>.json`) with each file's device, inode, size and modification time,
//! and a file whose four are unchanged is not read again, as `git status` and `rsync` decide. A
//! file whose modification time is not older than the record is read again (it may have changed
//! within the same clock tick), and `--no-reuse` or `--no-cache` read every file.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use lastmile_fs::Sha256;
use serde::{Deserialize, Serialize};

const SCHEMA: &str = "lastmile.file-digests/v1";

/// What must not have changed since a file was digested: its inode, size and modification time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Stat {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: i64,
    mtime_nsec: i64,
}

impl Stat {
    pub(crate) fn of(meta: &std::fs::Metadata) -> Self {
        Self {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.len(),
            mtime: meta.mtime(),
            mtime_nsec: meta.mtime_nsec(),
        }
    }
}

/// The record of a set of digests, as kept in the cache.
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    schema: String,
    /// When the files were read (seconds since the epoch): a file modified in that second or
    /// later is read again.
    taken: i64,
    files: Vec<(String, Stat, Sha256)>,
}

/// One set of remembered digests (a base folder's files, the wheels), and what this bake saw.
#[derive(Debug, Default)]
pub(crate) struct Remembered {
    record: Option<PathBuf>,
    taken: i64,
    earlier: HashMap<PathBuf, (Stat, Sha256)>,
    seen: HashMap<PathBuf, (Stat, Sha256)>,
    read: usize,
}

impl Remembered {
    /// The set `name` in `cache` (none: every file is read, nothing is remembered).
    pub(crate) fn open(cache: Option<&Path>, name: &str) -> Self {
        let Some(cache) = cache else {
            return Self::default();
        };
        let record = cache.join("file-digests").join(format!("{name}.json"));
        Self {
            earlier: trusted(&record),
            record: Some(record),
            taken: now(),
            ..Self::default()
        }
    }

    /// The sha256 of the file at `path` (`key` in the set), whose metadata is `meta`: as
    /// remembered when the file is unchanged since, else read.
    pub(crate) fn digest(
        &mut self,
        key: &Path,
        path: &Path,
        meta: &std::fs::Metadata,
    ) -> std::io::Result<Sha256> {
        let stat = Stat::of(meta);
        let digest = match self.earlier.get(key) {
            Some((then, digest)) if *then == stat => *digest,
            _ => {
                self.read += 1;
                Sha256::of_file(path)?
            }
        };
        self.seen.insert(key.to_path_buf(), (stat, digest));
        Ok(digest)
    }

    /// How many files were read, and how many were known.
    pub(crate) fn counts(&self) -> (usize, usize) {
        (self.read, self.seen.len() - self.read)
    }

    /// What this bake saw, by key.
    pub(crate) fn into_seen(self) -> HashMap<PathBuf, (Stat, Sha256)> {
        self.seen
    }

    /// Keep what this bake saw for the next one, if it read anything (a failure to keep it only
    /// costs the next bake time, so it is logged).
    pub(crate) fn keep(&self) {
        let Some(record) = &self.record else { return };
        if self.read == 0 {
            return;
        }
        if let Err(e) = self.write(record) {
            tracing::warn!("cannot remember file digests in {}: {e}", record.display());
        }
    }

    fn write(&self, record: &Path) -> std::io::Result<()> {
        let mut files: Vec<(String, Stat, Sha256)> = self
            .seen
            .iter()
            .filter_map(|(key, (stat, digest))| Some((key.to_str()?.to_owned(), *stat, *digest)))
            .collect();
        files.sort_by(|a, b| a.0.cmp(&b.0));
        let text = serde_json::to_vec(&Record {
            schema: SCHEMA.to_owned(),
            taken: self.taken,
            files,
        })
        .map_err(std::io::Error::other)?;
        if let Some(dir) = record.parent() {
            std::fs::create_dir_all(dir)?;
        }
        lastmile_fs::write_atomic(record, &text)
    }
}

/// Wheels whose every member was read and found to match the wheel's `RECORD`, by the wheel's
/// sha256 (`CACHE/checked-wheels/<sha256>`): the archive names a wheel's members by their
/// `RECORD` digests, which for a wheel not checked yet are checked first
/// (`install::verify_members`).
#[derive(Debug, Default)]
pub(crate) struct CheckedWheels {
    dir: Option<PathBuf>,
}

impl CheckedWheels {
    /// The wheels checked by earlier bakes with `cache` (none without one).
    pub(crate) fn open(cache: Option<&Path>) -> Self {
        Self {
            dir: cache.map(|cache| cache.join("checked-wheels")),
        }
    }

    pub(crate) fn contains(&self, wheel: &Sha256) -> bool {
        self.dir
            .as_ref()
            .is_some_and(|dir| dir.join(wheel.to_string()).is_file())
    }

    /// Remember that every member of `wheel` matches its `RECORD` (logged if it cannot be).
    pub(crate) fn mark(&self, wheel: &Sha256) {
        let Some(dir) = &self.dir else { return };
        if let Err(e) =
            std::fs::create_dir_all(dir).and_then(|()| std::fs::write(dir.join(wheel.to_string()), b""))
        {
            tracing::warn!("cannot remember a checked wheel in {}: {e}", dir.display());
        }
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The digests a record holds that may be trusted: those of files last modified before the
/// record was taken. A missing or unreadable record is no digests (everything is read).
fn trusted(record: &Path) -> HashMap<PathBuf, (Stat, Sha256)> {
    let Ok(text) = std::fs::read(record) else {
        return HashMap::new();
    };
    match serde_json::from_slice::<Record>(&text) {
        Ok(kept) if kept.schema == SCHEMA => kept
            .files
            .into_iter()
            .filter(|(_, stat, _)| stat.mtime < kept.taken)
            .map(|(key, stat, digest)| (PathBuf::from(key), (stat, digest)))
            .collect(),
        Ok(_) => HashMap::new(),
        Err(e) => {
            tracing::debug!("{}: not used: {e}", record.display());
            HashMap::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aged(path: &Path) {
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        let file = std::fs::File::options().write(true).open(path).unwrap();
        file.set_modified(old).unwrap();
    }

    /// A remembered digest serves a file unchanged since; a file changed (new size and time) is
    /// read again, and one modified after the record was taken is not trusted next time.
    #[test]
    fn a_remembered_digest_serves_only_an_unchanged_file() {
        let dir = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, b"one").unwrap();
        std::fs::write(&b, b"two").unwrap();
        aged(&a);
        aged(&b);
        let digest = |set: &mut Remembered, path: &Path| {
            let meta = std::fs::metadata(path).unwrap();
            set.digest(path, path, &meta).unwrap()
        };
        let mut first = Remembered::open(Some(cache.path()), "test");
        assert_eq!(digest(&mut first, &a), Sha256::of(b"one"));
        assert_eq!(digest(&mut first, &b), Sha256::of(b"two"));
        assert_eq!(first.counts(), (2, 0));
        first.keep();

        // Changed, and (as a file written while the record is taken can be) no older than it.
        std::fs::write(&b, b"TWO!").unwrap();
        let soon = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
        std::fs::File::options()
            .write(true)
            .open(&b)
            .unwrap()
            .set_modified(soon)
            .unwrap();
        let mut second = Remembered::open(Some(cache.path()), "test");
        assert_eq!(digest(&mut second, &a), Sha256::of(b"one"));
        assert_eq!(digest(&mut second, &b), Sha256::of(b"TWO!"));
        assert_eq!(second.counts(), (1, 1));
        second.keep();

        // b was modified after the record was taken: read again.
        let mut third = Remembered::open(Some(cache.path()), "test");
        digest(&mut third, &a);
        digest(&mut third, &b);
        assert_eq!(third.counts(), (1, 1));
        // No cache: everything is read.
        let mut cold = Remembered::open(None, "test");
        digest(&mut cold, &a);
        assert_eq!(cold.counts(), (1, 0));
    }
}

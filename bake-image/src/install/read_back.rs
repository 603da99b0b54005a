//! Deferred members read back from their wheels: into the archive, or onto disk for a step
//! that needs the real tree; each checked against its RECORD digest as it is read.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::PathBuf;

use lastmile_fs::Root;

use super::{Deferred, Hashing, Zip, open_zip};

/// Write deferred files out (for steps that need the real tree, like `--compile-bytecode`),
/// checked again against the digest taken at install.
pub(crate) fn materialize(root: &Root, deferred: &BTreeMap<PathBuf, Deferred>) -> anyhow::Result<()> {
    let mut zips: HashMap<PathBuf, Zip> = HashMap::new();
    for (path, file) in deferred {
        let mut out = root.create(path, file.mode)?;
        let mut member = read_back(&mut zips, file)?;
        std::io::copy(&mut member, &mut out)?;
        member.finish()?;
    }
    Ok(())
}

/// Read every member left in the wheels that `checked` does not know, each checked against its
/// RECORD digest (as a cold bake's archive would, refusing a member that does not match); the
/// wheels read. The archive then names these members by their RECORD digests without reading
/// them.
pub(crate) fn verify_members(
    deferred: &BTreeMap<PathBuf, Deferred>,
    checked: impl Fn(&lastmile_fs::Sha256) -> bool,
) -> std::io::Result<Vec<lastmile_fs::Sha256>> {
    let mut zips: HashMap<PathBuf, Zip> = HashMap::new();
    let mut read = std::collections::BTreeSet::new();
    for file in deferred.values() {
        let Some(wheel) = file.wheel_sha256 else { continue };
        if checked(&wheel) {
            continue;
        }
        read.insert(wheel);
        let mut member = read_back(&mut zips, file)?;
        std::io::copy(&mut member, &mut std::io::sink())?;
        member.finish()?;
    }
    Ok(read.into_iter().collect())
}

/// A deferred member read back from its wheel, checked at the end against the size and digest
/// it had at install: a wheel changed since (a cache file replaced) is refused.
pub(crate) struct ReadBack<'a, R> {
    inner: Hashing<R>,
    file: std::borrow::Cow<'a, Deferred>,
}

pub(crate) fn read_back<'a>(
    zips: &'a mut HashMap<PathBuf, Zip>,
    file: &'a Deferred,
) -> std::io::Result<ReadBack<'a, zip::read::ZipFile<'a, std::io::BufReader<std::fs::File>>>> {
    let zip = open_zip(zips, &file.wheel)?;
    let entry = zip.by_index(file.index).map_err(std::io::Error::other)?;
    Ok(ReadBack {
        inner: Hashing {
            inner: entry,
            hasher: lastmile_fs::Sha256Writer::new(std::io::sink()),
        },
        file: std::borrow::Cow::Borrowed(file),
    })
}

/// [`read_back`] with a reader of its own (the wheel file opened again at the member's data,
/// inflated here), so it can be kept open while other members are read, and read a stretch at
/// a time.
pub(crate) fn read_back_owned(
    zips: &mut HashMap<PathBuf, Zip>,
    file: &Deferred,
) -> std::io::Result<ReadBack<'static, Box<dyn Read>>> {
    use std::io::Seek;
    let zip = open_zip(zips, &file.wheel)?;
    let entry = zip.by_index_raw(file.index).map_err(std::io::Error::other)?;
    let (method, start, compressed) = (entry.compression(), entry.data_start(), entry.compressed_size());
    drop(entry);
    let mut wheel = std::fs::File::open(&file.wheel)?;
    wheel.seek(std::io::SeekFrom::Start(start))?;
    let raw = std::io::BufReader::with_capacity(256 << 10, wheel).take(compressed);
    let inner: Box<dyn Read> = match method {
        zip::CompressionMethod::Stored => Box::new(raw),
        zip::CompressionMethod::Deflated => Box::new(flate2::read::DeflateDecoder::new(raw)),
        other => {
            return Err(std::io::Error::other(format!(
                "{}: {}: compressed with {other:?}, which wheels do not use",
                file.wheel.display(),
                file.member
            )));
        }
    };
    Ok(ReadBack {
        inner: Hashing {
            inner,
            hasher: lastmile_fs::Sha256Writer::new(std::io::sink()),
        },
        file: std::borrow::Cow::Owned(file.clone()),
    })
}

impl<R: Read> Read for ReadBack<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.check()?;
        }
        Ok(n)
    }
}

impl<R: Read> ReadBack<'_, R> {
    fn check(&self) -> std::io::Result<()> {
        let written = self.inner.hasher.written();
        let digest = self.inner.hasher.digest();
        if written != self.file.size || digest != self.file.sha256 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "{}: {}: its bytes do not match the wheel's RECORD ({} bytes, sha256 {} read; {} bytes, sha256 {} recorded); the wheel is corrupt or was altered",
                    self.file.wheel.display(),
                    self.file.member,
                    written,
                    digest.short(12),
                    self.file.size,
                    self.file.sha256.short(12),
                ),
            ));
        }
        Ok(())
    }

    /// Check a member read to its end (for readers that stop at the size they expect).
    pub(crate) fn finish(mut self) -> std::io::Result<()> {
        let mut rest = Vec::new();
        self.inner.read_to_end(&mut rest)?;
        self.check()
    }
}

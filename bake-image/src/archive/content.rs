//! A file's bytes in the archive named by what they are instead of carried: by their sha256 (a
//! base file's as read when the base was digested, a wheel member's as its `RECORD` has it,
//! checked against the member's bytes before the archive relies on it:
//! [`crate::install::verify_members`]). A piece made of named contents is known before a byte of
//! it is read, so a piece an earlier image holds is copied without reading, inflating or hashing
//! what it holds; only a piece that must be compressed reads its contents
//! ([`Contents::bytes`]), each checked against its sha256 as it is read.

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use lastmile_fs::Sha256;

use crate::install::Deferred;

/// The bytes of one archive entry, by name.
#[derive(Debug)]
pub(crate) struct Content {
    /// The sha256 of the bytes.
    pub(crate) id: Sha256,
    pub(crate) size: u64,
    pub(crate) source: Source,
}

/// Where the bytes are read from when they are needed.
#[derive(Debug)]
pub(crate) enum Source {
    /// A file of the staging tree whose sha256 is the id.
    File(PathBuf),
    /// A wheel's member, checked against its RECORD digest as it is read.
    Member(Deferred),
}

impl Content {
    /// A file of the base, known by its sha256.
    pub(crate) fn file(path: PathBuf, sha256: Sha256, size: u64) -> Self {
        Self {
            id: sha256,
            size,
            source: Source::File(path),
        }
    }

    /// A wheel's member, known by its sha256 in the wheel's `RECORD`.
    pub(crate) fn member(file: &Deferred) -> Self {
        Self {
            id: file.sha256,
            size: file.size,
            source: Source::Member(file.clone()),
        }
    }
}

/// Reads contents for the pieces that are compressed, a stretch at a time: the content being
/// read stays open, as the pieces of a big file come one after the other, and each is checked
/// against its sha256 once read to its end (a wheel's member as it is inflated). Memory stays at
/// a piece, whatever the size of the files.
#[derive(Default)]
pub(crate) struct Contents {
    zips: HashMap<PathBuf, crate::install::Zip>,
    open: Option<Open>,
}

/// The content being read, and how far.
struct Open {
    content: Arc<Content>,
    reader: Box<dyn Read>,
    /// A file's bytes hashed as read (a member's are, by its reader).
    hasher: Option<lastmile_fs::Sha256Writer<std::io::Sink>>,
    at: u64,
}

impl Contents {
    /// Append `len` bytes of `content` from `from` to `out`.
    pub(crate) fn read(
        &mut self,
        content: &Arc<Content>,
        from: u64,
        len: usize,
        out: &mut Vec<u8>,
    ) -> std::io::Result<()> {
        let reopen = self
            .open
            .as_ref()
            .is_none_or(|open| !Arc::ptr_eq(&open.content, content) || open.at > from);
        if reopen {
            self.open = Some(self.start(content)?);
        }
        let open = self.open.as_mut().expect("opened");
        if open.at < from {
            let skip = from - open.at;
            open.copy(skip, &mut std::io::sink())?;
        }
        let start = out.len();
        out.resize(start + len, 0);
        open.fill(&mut out[start..])?;
        if open.at == content.size {
            self.open.take().expect("open").finish()?;
        }
        Ok(())
    }

    fn start(&mut self, content: &Arc<Content>) -> std::io::Result<Open> {
        let (reader, hasher): (Box<dyn Read>, _) = match &content.source {
            Source::File(path) => (
                Box::new(std::io::BufReader::with_capacity(
                    256 << 10,
                    std::fs::File::open(path)?,
                )),
                Some(lastmile_fs::Sha256Writer::new(std::io::sink())),
            ),
            Source::Member(file) => (
                Box::new(crate::install::read_back_owned(&mut self.zips, file)?),
                None,
            ),
        };
        Ok(Open {
            content: Arc::clone(content),
            reader,
            hasher,
            at: 0,
        })
    }
}

impl Open {
    /// Fill `buf` from the content; running out first means it changed while it was archived.
    fn fill(&mut self, buf: &mut [u8]) -> std::io::Result<()> {
        self.reader.read_exact(buf).map_err(|e| self.changed(e))?;
        if let Some(hasher) = &mut self.hasher {
            std::io::Write::write_all(hasher, buf)?;
        }
        self.at += buf.len() as u64;
        Ok(())
    }

    fn copy(&mut self, mut n: u64, out: &mut impl std::io::Write) -> std::io::Result<()> {
        let mut buf = vec![0; 64 << 10];
        while n > 0 {
            let take = n.min(buf.len() as u64) as usize;
            self.fill(&mut buf[..take])?;
            out.write_all(&buf[..take])?;
            n -= take as u64;
        }
        Ok(())
    }

    /// Read to the end: nothing more (a member's reader checks its RECORD digest there), and a
    /// file's bytes are the ones it was named by.
    fn finish(mut self) -> std::io::Result<()> {
        let mut rest = [0u8; 1];
        let more = self.reader.read(&mut rest)?;
        let same = self.hasher.as_ref().is_none_or(|h| h.digest() == self.content.id);
        if more != 0 || !same {
            return Err(self.changed(std::io::Error::other("other bytes")));
        }
        Ok(())
    }

    fn changed(&self, e: std::io::Error) -> std::io::Error {
        match &self.content.source {
            Source::File(path) => {
                std::io::Error::other(format!("{}: changed while it was archived ({e})", path.display()))
            }
            // A member's reader names the wheel and the member itself.
            Source::Member(_) => e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stretches read in any order are the file's bytes: a later stretch first (the earlier ones
    /// skipped, as when their pieces were copied), then from the start again, to the end.
    #[test]
    fn stretches_are_the_files_bytes_in_any_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let content = Arc::new(Content::file(path.clone(), Sha256::of(&data), data.len() as u64));
        let mut contents = Contents::default();
        let mut out = Vec::new();
        contents.read(&content, 200_000, 50_000, &mut out).unwrap();
        assert!(out == data[200_000..250_000]);
        out.clear();
        contents.read(&content, 0, 100_000, &mut out).unwrap();
        contents.read(&content, 100_000, 200_000, &mut out).unwrap();
        assert!(out == data);

        // Named by another digest: refused once read to its end.
        let wrong = Arc::new(Content::file(path, Sha256::of(b"other"), data.len() as u64));
        let err = contents.read(&wrong, 0, data.len(), &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("changed while it was archived"), "{err}");
    }
}

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

    /// Its bytes, read and checked.
    fn read(&self, zips: &mut HashMap<PathBuf, crate::install::Zip>) -> std::io::Result<Vec<u8>> {
        let mut data = Vec::with_capacity(usize::try_from(self.size).unwrap_or(0));
        match &self.source {
            Source::File(path) => {
                let file = std::fs::File::open(path)?;
                file.take(self.size.saturating_add(1)).read_to_end(&mut data)?;
                if data.len() as u64 != self.size || Sha256::of(&data) != self.id {
                    return Err(std::io::Error::other(format!(
                        "{}: changed while it was archived",
                        path.display()
                    )));
                }
            }
            Source::Member(file) => {
                let mut member = crate::install::read_back(zips, file)?;
                member.read_to_end(&mut data)?;
            }
        }
        Ok(data)
    }
}

/// Reads contents for the pieces that are compressed: the last one read is kept, as the pieces
/// of a big file come one after the other.
#[derive(Default)]
pub(crate) struct Contents {
    zips: HashMap<PathBuf, crate::install::Zip>,
    last: Option<(Arc<Content>, Arc<Vec<u8>>)>,
}

impl Contents {
    /// The bytes of `content`.
    pub(crate) fn bytes(&mut self, content: &Arc<Content>) -> std::io::Result<Arc<Vec<u8>>> {
        if let Some((last, data)) = &self.last
            && Arc::ptr_eq(last, content)
        {
            return Ok(Arc::clone(data));
        }
        let data = Arc::new(content.read(&mut self.zips)?);
        self.last = Some((Arc::clone(content), Arc::clone(&data)));
        Ok(data)
    }
}

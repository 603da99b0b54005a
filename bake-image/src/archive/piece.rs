//! One piece of the archive as it is assembled: runs of bytes the archive writes (headers,
//! padding, files read whole) and stretches of named contents ([`Content`]), with its key: the
//! sha256 of what it is made of, known before any content is read.

use std::sync::Arc;

use lastmile_fs::Sha256;
use sha2::Digest;

use super::content::{Content, Contents};

/// A stretch of a piece.
enum Segment {
    Bytes(Vec<u8>),
    /// `len` bytes of `content`, from `from`.
    Content {
        content: Arc<Content>,
        from: u64,
        len: u64,
    },
}

/// A piece being assembled.
#[derive(Default)]
pub(crate) struct Piece {
    segments: Vec<Segment>,
    len: usize,
}

impl Piece {
    /// Bytes of the archive it holds.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes the archive writes; consecutive writes are one run, however they were split.
    pub(crate) fn push_bytes(&mut self, bytes: &[u8]) {
        if let Some(Segment::Bytes(run)) = self.segments.last_mut() {
            run.extend_from_slice(bytes);
        } else {
            self.segments.push(Segment::Bytes(bytes.to_vec()));
        }
        self.len += bytes.len();
    }

    /// `len` bytes of `content` from `from`.
    pub(crate) fn push_content(&mut self, content: &Arc<Content>, from: u64, len: usize) {
        self.segments.push(Segment::Content {
            content: Arc::clone(content),
            from,
            len: len as u64,
        });
        self.len += len;
    }

    /// What the piece is made of, as a sha256: its runs of bytes, and each content's id and size
    /// with the stretch of it the piece holds. Equal keys, equal bytes; the same tree always
    /// gives the same keys, whether or not a piece is then read.
    pub(crate) fn key(&self) -> Sha256 {
        let mut key = sha2::Sha256::new();
        for segment in &self.segments {
            match segment {
                Segment::Bytes(run) => {
                    key.update(b"B");
                    key.update((run.len() as u64).to_le_bytes());
                    key.update(run);
                }
                Segment::Content { content, from, len } => {
                    key.update(b"C");
                    key.update(content.id.as_bytes());
                    key.update(content.size.to_le_bytes());
                    key.update(from.to_le_bytes());
                    key.update(len.to_le_bytes());
                }
            }
        }
        Sha256::from(<[u8; 32]>::from(key.finalize()))
    }

    /// The piece's bytes, its contents read (and checked) through `contents`.
    pub(crate) fn bytes(&self, contents: &mut Contents) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(self.len);
        for segment in &self.segments {
            match segment {
                Segment::Bytes(run) => out.extend_from_slice(run),
                Segment::Content { content, from, len } => {
                    let len = usize::try_from(*len).map_err(std::io::Error::other)?;
                    contents.read(content, *from, len, &mut out)?;
                }
            }
        }
        Ok(out)
    }
}

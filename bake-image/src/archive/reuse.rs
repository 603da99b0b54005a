//! The pieces of earlier images, found by their keys (the sha256 of what a piece is made of:
//! its header bytes and the digests of the contents it holds, [`super::piece`]), so the next
//! image copies what did not change instead of reading and compressing it again.
//!
//! Each bake records where every piece of its image is (`CACHE/image-pieces/<12 hex>.json`:
//! the piece's key, the member's offset, length and CRC-32). An earlier image is used only when
//! its record was made with the same compression and the same bake-image; each member copied is
//! checked against the CRC-32 its record has for it (so an image replaced or damaged since gives
//! nothing wrong), and to be a gzip member holding as many bytes as the new piece. Whatever is not found (or does not check out) is compressed as
//! in a cold bake, so the bytes are the same either way.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use lastmile_documents::candidate::ImageName;
use lastmile_fs::Sha256;
use serde::{Deserialize, Serialize};

const SCHEMA: &str = "lastmile.image-pieces/v2";

/// Where one piece of an image is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PieceRecord {
    /// The sha256 of what the piece is made of.
    pub(crate) key: Sha256,
    /// Where its gzip member starts in the image, how long it is, and the CRC-32 of its bytes.
    pub(crate) offset: u64,
    pub(crate) length: u64,
    pub(crate) crc32: u32,
}

/// The record of one image's pieces, as kept in the cache.
#[derive(Debug, Serialize, Deserialize)]
struct PieceIndex {
    schema: String,
    image: Sha256,
    /// The manifest's compression and the tool: a member made otherwise is not the same bytes.
    compression: String,
    pieces: Vec<PieceRecord>,
}

/// The cache folder of piece records.
fn records_dir(cache: &Path) -> PathBuf {
    cache.join("image-pieces")
}

/// The compression as recorded: the manifest's words and the tool that made the members.
pub(crate) fn compression_key(compression: &str) -> String {
    format!("{compression}; bake-image {}", env!("CARGO_PKG_VERSION"))
}

/// Record where the pieces of the image `image` are, for the next bake.
pub(crate) fn record(
    cache: &Path,
    image: &Sha256,
    compression: &str,
    pieces: Vec<PieceRecord>,
) -> std::io::Result<()> {
    let index = PieceIndex {
        schema: SCHEMA.to_owned(),
        image: *image,
        compression: compression_key(compression),
        pieces,
    };
    let dir = records_dir(cache);
    std::fs::create_dir_all(&dir)?;
    let text = serde_json::to_vec(&index).map_err(std::io::Error::other)?;
    lastmile_fs::write_atomic(&dir.join(format!("{}.json", ImageName::of(image).short())), &text)
}

/// The pieces of earlier images, by their keys.
#[derive(Debug, Default)]
pub(crate) struct Earlier {
    images: Vec<(PathBuf, File)>,
    members: HashMap<Sha256, (usize, PieceRecord)>,
}

impl Earlier {
    /// The images among `paths` (image files, or folders of them) that this cache recorded with
    /// this compression and that still hash to their digest. Anything else is passed over (and
    /// logged): reuse only ever saves time, it never decides bytes.
    pub(crate) fn open(cache: &Path, paths: &[PathBuf], compression: &str) -> Self {
        let key = compression_key(compression);
        let mut earlier = Self::default();
        for path in paths {
            match earlier.add(cache, path, &key) {
                Ok(pieces) => tracing::info!("{}: {pieces} pieces to reuse", path.display()),
                Err(why) => tracing::info!("{}: not reused: {why}", path.display()),
            }
        }
        earlier
    }

    /// How many images have pieces to give.
    pub(crate) fn images(&self) -> usize {
        self.images.len()
    }

    fn add(&mut self, cache: &Path, path: &Path, key: &str) -> Result<usize, String> {
        let name: ImageName = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .parse()
            .map_err(|e| format!("{e}"))?;
        let record = records_dir(cache).join(format!("{}.json", name.short()));
        let text = std::fs::read(&record).map_err(|_| {
            format!(
                "no record of its pieces in {} (baked with another cache?)",
                records_dir(cache).display()
            )
        })?;
        let index: PieceIndex =
            serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", record.display()))?;
        if index.schema != SCHEMA {
            return Err(format!(
                "{}: {:?}, this bake-image reads {SCHEMA:?}",
                record.display(),
                index.schema
            ));
        }
        if !name.matches(&index.image) {
            return Err(format!("{}: not a record of this image", record.display()));
        }
        if index.compression != key {
            return Err(format!(
                "made with {:?}, this bake makes {key:?}",
                index.compression
            ));
        }
        let file = File::open(path).map_err(|e| e.to_string())?;
        let slot = self.images.len();
        let pieces = index.pieces.len();
        for piece in index.pieces {
            self.members.entry(piece.key).or_insert((slot, piece));
        }
        self.images.push((path.to_path_buf(), file));
        Ok(pieces)
    }

    /// The gzip member of an earlier image holding the piece `key` (of `len` bytes), if there
    /// is one and its trailer agrees.
    pub(crate) fn member(&self, key: &Sha256, len: usize) -> Option<Vec<u8>> {
        let (slot, record) = self.members.get(key)?;
        let (path, file) = &self.images[*slot];
        let mut member = vec![0; usize::try_from(record.length).ok()?];
        if let Err(e) = file.read_exact_at(&mut member, record.offset) {
            tracing::warn!("{}: cannot read a piece to reuse: {e}", path.display());
            return None;
        }
        if crc32fast::hash(&member) != record.crc32 || !trailer_matches(&member, len) {
            tracing::warn!(
                "{}: the piece at {} does not hold what its record says; compressing it again",
                path.display(),
                record.offset
            );
            return None;
        }
        Some(member)
    }
}

/// A gzip member (magic, deflate) whose trailer says it holds `len` bytes.
fn trailer_matches(member: &[u8], len: usize) -> bool {
    let n = member.len();
    if n < 18 || member[..3] != [0x1f, 0x8b, 8] {
        return false;
    }
    let size = u32::from_le_bytes(member[n - 4..].try_into().expect("4 bytes"));
    size == len as u32
}

/// The images a bake may reuse pieces of: every image among `paths` (files, or folders of
/// images); none given, the newest image in `out_dir` this cache has a record of.
pub(crate) fn candidates(cache: &Path, paths: &[PathBuf], out_dir: &Path) -> Vec<PathBuf> {
    let images_in = |dir: &Path| -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut images: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.parse::<ImageName>().is_ok())
            })
            .collect();
        images.sort();
        images
    };
    if !paths.is_empty() {
        return paths
            .iter()
            .flat_map(|p| if p.is_dir() { images_in(p) } else { vec![p.clone()] })
            .collect();
    }
    let recorded = |p: &PathBuf| {
        p.file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.parse::<ImageName>().ok())
            .is_some_and(|name| {
                records_dir(cache)
                    .join(format!("{}.json", name.short()))
                    .is_file()
            })
    };
    let newest = images_in(out_dir)
        .into_iter()
        .filter(recorded)
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
        .max();
    newest.map(|(_, p)| p).into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_is_given_only_for_the_bytes_its_trailer_holds() {
        let piece = b"the same bytes".repeat(1000);
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        std::io::Write::write_all(&mut encoder, &piece).unwrap();
        let member = encoder.finish().unwrap();
        assert!(trailer_matches(&member, piece.len()));
        assert!(!trailer_matches(&member, piece.len() - 1));
        assert!(!trailer_matches(&member[..10], piece.len()));
        let mut not_gzip = member.clone();
        not_gzip[0] = 0;
        assert!(!trailer_matches(&not_gzip, piece.len()));
    }
}

//! A release candidate's image file (`autobuild-<digest>.tar.gz`), as the tools after
//! bake-image use it: opened only if it is a regular file (a device or FIFO in its place is
//! refused, never read forever), its manifest (`/etc/lastmile/candidate.json`) read from inside
//! it with a bound, and unpacked in one pass that hashes the very bytes it unpacks, so what lands
//! in a store is what was verified, not what the path held a moment earlier.
//!
//! Read errors name the file and say when the image is truncated. Depends on lastmile-fs,
//! lastmile-documents and lastmile-process (an unpack stops on Ctrl-C); never on a tool.

mod error;
mod unpack;

use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use lastmile_documents::Document;
use lastmile_documents::candidate::{CANDIDATE_PATH, CandidateDocument};
use lastmile_fs::Sha256;

pub use error::ImageError;
pub use unpack::unpack;

/// The most the manifest inside an image may hold.
const MANIFEST_LIMIT: u64 = 16 << 20;

/// An image file, open: regular, with the length it had when opened.
pub struct ImageFile {
    path: PathBuf,
    file: std::fs::File,
    len: u64,
}

impl ImageFile {
    /// Open `path`, refusing anything but a regular file.
    pub fn open(path: &Path) -> Result<Self, ImageError> {
        let (file, len) = lastmile_fs::open_regular(path).map_err(|e| ImageError::io(path, e))?;
        Ok(Self {
            path: path.to_owned(),
            file,
            len,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its length when opened.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The sha256 of its bytes, read from the open file (to the length it had when opened).
    pub fn digest(self) -> Result<Sha256, ImageError> {
        let path = self.path.clone();
        let len = self.len;
        let mut reader = lastmile_fs::Sha256Reader::new(self.file.take(len.saturating_add(1)));
        std::io::copy(&mut reader, &mut std::io::sink()).map_err(|e| ImageError::io(&path, e))?;
        if reader.read_bytes() != len {
            return Err(ImageError::Changed { path });
        }
        Ok(reader.digest())
    }

    /// The candidate document bake-image wrote inside the image, checked.
    pub fn manifest(self) -> Result<CandidateDocument, ImageError> {
        let path = self.path;
        let gz = flate2::read::MultiGzDecoder::new(BufReader::with_capacity(1 << 20, self.file));
        let mut archive = tar::Archive::new(gz);
        let read = |e| ImageError::io(&path, e);
        for entry in archive.entries().map_err(read)? {
            let mut entry = entry.map_err(read)?;
            let name = entry.path().map_err(read)?.into_owned();
            if name.strip_prefix("./").unwrap_or(&name) != Path::new(CANDIDATE_PATH) {
                continue;
            }
            let text = lastmile_fs::read_text_limited(&mut entry, MANIFEST_LIMIT)
                .map_err(|e| ImageError::io(&path.join(CANDIDATE_PATH), e))?;
            let shown = format!("{}!{CANDIDATE_PATH}", path.display());
            return CandidateDocument::from_json(&text, &shown).map_err(ImageError::Manifest);
        }
        Err(ImageError::NoManifest { path })
    }
}

/// The manifest inside the image at `path`.
pub fn manifest(path: &Path) -> Result<CandidateDocument, ImageError> {
    ImageFile::open(path)?.manifest()
}

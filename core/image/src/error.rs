//! What can be wrong with an image file, each naming the file.

use std::path::{Path, PathBuf};

use lastmile_documents::DocumentError;

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{}: truncated: the image ends before its archive does ({detail})", path.display())]
    Truncated { path: PathBuf, detail: String },
    #[error("{}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}: changed while it was read (it grew): not the file that was opened", path.display())]
    Changed { path: PathBuf },
    #[error("{}: no /{} inside: not an image bake-image made", path.display(), lastmile_documents::candidate::CANDIDATE_PATH)]
    NoManifest { path: PathBuf },
    #[error(transparent)]
    Manifest(DocumentError),
    #[error(
        "{}: its bytes hash to {found}, not {expected}: the image was changed or replaced after it was baked; nothing was kept from it",
        path.display()
    )]
    Mismatch {
        path: PathBuf,
        found: lastmile_fs::Sha256,
        expected: lastmile_fs::Sha256,
    },
    #[error("{}: entry {entry} leaves the image; refusing the image", path.display())]
    Escapes { path: PathBuf, entry: String },
    #[error("{}: unpacking {entry}: {source}", path.display())]
    Unpack {
        path: PathBuf,
        entry: String,
        source: std::io::Error,
    },
}

impl ImageError {
    /// A read error of the image at `path`: a gzip or tar stream that ends early is a truncated
    /// image (for any reader of an image, not only this crate's).
    pub fn reading(path: &Path, source: std::io::Error) -> Self {
        Self::io(path, source)
    }

    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        if truncates(&source) {
            return ImageError::Truncated {
                path: path.to_owned(),
                detail: source.to_string(),
            };
        }
        ImageError::Read {
            path: path.to_owned(),
            source,
        }
    }
}

/// Whether a read error says the stream ended early (gzip or tar).
pub(crate) fn truncates(error: &std::io::Error) -> bool {
    let text = error.to_string();
    error.kind() == std::io::ErrorKind::UnexpectedEof
        || text.contains("incomplete deflate stream")
        || text.contains("unexpected EOF")
        || text.contains("failed to fill whole buffer")
}

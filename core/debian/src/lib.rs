//! Debian archive metadata, checked link by link: an `InRelease` file is verified with `gpgv`
//! against a keyring (Debian's archive keyring, or a team's own), and only the text gpgv
//! verified is read; a `Packages` index is checked against the sha256 and size that text gives
//! it; a `.deb` against the sha256 and size its `Packages` record gives. A mismatch anywhere is an
//! error naming the file. What pin-deps locks OS packages with, and what builds a base from the
//! lock checks again.
//!
//! Depends only on `lastmile-fs` and `lastmile-process` (gpgv runs as a child); knows nothing of
//! Python packaging, documents or the tools.

mod gpgv;
mod packages;
mod release;

use std::path::PathBuf;

pub use gpgv::verify_clearsigned;
pub use packages::{Package, read_packages};
pub use release::{FileSum, Release};

/// What failed, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum DebianError {
    #[error("{path}: the signature does not verify against {keyrings}: {detail}")]
    BadSignature {
        path: PathBuf,
        keyrings: String,
        detail: String,
    },
    #[error(transparent)]
    Mismatch(Box<Mismatch>),
    #[error("{what}: {detail}")]
    Malformed { what: String, detail: String },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

impl DebianError {
    pub(crate) fn malformed(what: impl std::fmt::Display, detail: impl Into<String>) -> Self {
        DebianError::Malformed {
            what: what.to_string(),
            detail: detail.into(),
        }
    }

    pub(crate) fn io(what: impl std::fmt::Display, source: std::io::Error) -> Self {
        DebianError::Io {
            what: what.to_string(),
            source,
        }
    }
}

/// A file whose sha256 or size is not what the level above says.
#[derive(Debug, thiserror::Error)]
#[error(
    "{what}: sha256 {found} (size {found_size}), but {against} says sha256 {expected} (size {expected_size})"
)]
pub struct Mismatch {
    pub what: String,
    pub against: String,
    pub found: lastmile_fs::Sha256,
    pub found_size: u64,
    pub expected: lastmile_fs::Sha256,
    pub expected_size: u64,
}

/// Check `bytes` (named `what` in messages) against the sha256 and size `against` gives.
pub fn check_bytes(what: &str, bytes: &[u8], expected: &FileSum, against: &str) -> Result<(), DebianError> {
    let found = lastmile_fs::Sha256::of(bytes);
    let found_size = bytes.len() as u64;
    if found != expected.sha256 || found_size != expected.size {
        return Err(DebianError::Mismatch(Box::new(Mismatch {
            what: what.to_owned(),
            against: against.to_owned(),
            found,
            found_size,
            expected: expected.sha256,
            expected_size: expected.size,
        })));
    }
    Ok(())
}

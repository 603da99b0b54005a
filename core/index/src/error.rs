//! What can go wrong finding distributions.

use std::sync::Arc;

use lastmile_dist::DistError;
use lastmile_fs::InputError;

use crate::http::HttpError;

/// A package's files or metadata could not be found or read. Cheap to clone: a failure is
/// remembered and answered again to every later question about the same package.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IndexError {
    /// A request failed (the URL is shown without credentials).
    #[error(transparent)]
    Http(#[from] HttpError),
    /// A project page, a link on it, or a metadata file is malformed (with its place).
    #[error(transparent)]
    Page(#[from] InputError),
    /// A distribution file could not be read.
    #[error(transparent)]
    Dist(Arc<DistError>),
    /// A local file or folder could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        path: String,
        #[source]
        source: Arc<std::io::Error>,
    },
    /// A `--find-links` value that is not a folder.
    #[error(
        "--find-links {value}: only folders and file:// URLs are supported; give an HTML index with --extra-index-url"
    )]
    FindLinks { value: String },
    /// An index URL that cannot be used.
    #[error("index URL {url}: {reason}")]
    IndexUrl { url: String, reason: String },
    /// Neither an index nor a find-links folder.
    #[error("{}", if *no_index {
        "no package source: --no-index leaves only --find-links, and none was given"
    } else {
        "no package source: give --find-links DIR or --index-url URL"
    })]
    NoSource { no_index: bool },
    #[error("--offline needs a cache: drop --no-cache, or give --cache-dir")]
    OfflineWithoutCache,
    /// A timeout or a number of retries that cannot be.
    #[error("{what} {value:?}: give a positive number of seconds (or of retries)")]
    Limit { what: &'static str, value: String },
}

impl From<DistError> for IndexError {
    fn from(error: DistError) -> Self {
        IndexError::Dist(Arc::new(error))
    }
}

impl IndexError {
    pub(crate) fn read(path: &std::path::Path, source: std::io::Error) -> Self {
        IndexError::Read {
            path: path.display().to_string(),
            source: Arc::new(source),
        }
    }
}

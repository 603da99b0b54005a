//! What went wrong with a request.

use url::Url;

use super::credentials::redact;

/// A request failed; the URL is always shown without credentials.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{url}: {message}")]
pub struct HttpError {
    /// The URL, credentials replaced by `****`.
    pub url: String,
    pub message: String,
    pub kind: HttpErrorKind,
}

/// The kinds of failure a caller may treat differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpErrorKind {
    /// `--offline` and the answer is not in the cache.
    NotCached,
    /// 401 or 403.
    Unauthorized,
    /// Retries exhausted on a server error or timeout, or the connection failed.
    Unavailable,
    /// A downloaded file's sha256 is not the one expected.
    HashMismatch,
    /// Anything else: a 4xx, a bad answer, a local I/O error.
    Other,
}

impl HttpError {
    pub(crate) fn new(url: &Url, kind: HttpErrorKind, message: impl Into<String>) -> Self {
        Self {
            url: redact(url.as_str()),
            message: message.into(),
            kind,
        }
    }
}

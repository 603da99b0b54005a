//! The package index client: HTTP with credentials, retries and a cache ([`http`]), PEP 503/691
//! simple pages ([`simple`]), and the [`Finder`] that turns find-links folders and indexes into
//! the distribution files and metadata a resolver or an installer needs, for a target;
//! [`SourceOptions`] makes its sources from what a person gave, in pip's order of precedence.
//!
//! Depends on `lastmile-dist` (reading the files it finds), `lastmile-python` and `lastmile-fs`;
//! knows nothing of resolution, images or the command line.

pub mod finder;
pub mod http;
pub mod simple;

mod error;
mod hash_cache;
mod options;

pub use error::IndexError;
pub use finder::{
    DistFile, FileKind, FileLocation, Finder, IndexStrategy, PYPI, Project, Sources, find_links_dir,
    find_links_dirs,
};
pub use hash_cache::{HashCache, sha256_cached};
pub use lastmile_python::NameGlobs;
pub use lastmile_python::name_glob::NameGlobError;
pub use options::{SourceOptions, network_limits};

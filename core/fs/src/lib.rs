//! Files, the lowest layer of lastmile: where a piece of input came from ([`Location`], so every
//! error can name the file and line), sha256 digests as a value type ([`Sha256`]: always 64
//! lower-case hex characters, so a digest can never become a path like `../`), and writes that
//! never leave a half-written file ([`write_atomic`]), reads with a bound ([`read_text`]), and a
//! root filesystem whose reads and writes never leave it ([`Root`]), and the one rule for
//! trusting a cache folder ([`trusted_dir`]).
//!
//! Must not depend on any other lastmile crate, nor on anything about Python packaging.

mod atomic;
mod cache;
mod digest;
mod location;
mod placement;
mod read;
mod root;

pub use atomic::{sync_dir, write_atomic, write_atomic_with};
pub use cache::{CacheError, cache_root, trusted_dir};
pub use digest::{DigestError, Sha256, Sha256Reader, Sha256Writer};
pub use location::{InputError, Location, line_of_offset};
pub use placement::mark_top_of_tree;
pub use read::{TEXT_LIMIT, open_regular, read_tail, read_text, read_text_limited, read_text_limited_path};
pub use root::{Folder, Root, RootError};

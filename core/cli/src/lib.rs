//! The command-line plumbing every lastmile tool shares, so the five tools behave alike:
//!
//! - [`GlobalArgs`]: `-o FILE`, `-q`, `-v`, `--no-progress`, `--color`, with the same meaning
//!   everywhere, and [`VERSION`] for `--version` (with the git commit it was built from);
//! - [`main_with`]: the one place errors become exit codes (0, 1, 2, 130) and are printed once
//!   as `tool: message: cause`;
//! - [`logging`]: messages on stderr as `tool: warning: ...`, `-v`/`-q` and `RUST_LOG`;
//! - [`Reporter`]: progress bars on stderr, only on a terminal;
//! - [`emit`]: output to stdout, or written atomically to `-o FILE`;
//! - [`input`]: `-` for stdin, read at most once;
//! - [`IndexArgs`] (feature `index`): the package-source flags of the tools that read an index,
//!   turned into `lastmile-index`'s options.
//!
//! Depends on `lastmile-fs` (atomic writes) and `lastmile-process` (interrupts), and, with the
//! `index` feature only, on `lastmile-index`; never on the other packaging crates.

pub mod input;
pub mod logging;

mod args;
mod exit;
#[cfg(feature = "index")]
mod index_args;
mod output;
mod progress;

pub use args::{Color, GlobalArgs};
pub use exit::{Exit, Negative, exit_code, main_with};
#[cfg(feature = "index")]
pub use index_args::{IndexArgs, Strategy};
pub use output::{emit, emit_with};
pub use progress::Reporter;

/// `0.1.0 (3f2c1e9a0b4d)`: the version and the git commit the tools were built from.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("LASTMILE_COMMIT"), ")");

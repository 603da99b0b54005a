//! Signals and child processes. A tool that makes something (a staging tree, an image, a node
//! being switched) installs the handler ([`interrupt::install`]), checks between steps
//! ([`interrupt::check`]) and runs children through [`output`], so that on Ctrl-C or SIGTERM the
//! current step fails with [`Interrupted`], the error unwinds through the `Drop`s that clean up,
//! and the tool exits 130. [`run`] gives a child a time limit, keeps the head and tail of its output,
//! and kills everything it started (its process group and every descendant) when it ends.
//!
//! Must not depend on any other lastmile crate.

pub mod fault;
pub mod interrupt;

mod capture;
mod child;
mod run;
mod tree;

pub use capture::KEEP;
pub use child::{ProcessError, output};
pub use interrupt::Interrupted;
pub use run::{Finished, run, run_starting};

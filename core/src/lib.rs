//! Shared primitives of the lastmile tools.
//!
//! Python packaging on top of `pep440_rs`/`pep508_rs` (names, requirements, markers, core metadata),
//! the JSON documents the tools exchange, and the plumbing every binary shares: exit codes, atomic
//! writes, stdin handling and log output.

pub mod candidate;
pub mod dist;
pub mod document;
pub mod entry_points;
pub mod exit;
pub mod finder;
pub mod fs;
pub mod graph;
pub mod http;
pub mod input;
pub mod interrupt;
pub mod location;
pub mod lock;
pub mod logging;
pub mod metadata;
pub mod project;
pub mod requirement;
pub mod requirements_file;
pub mod requirements_txt;
pub mod simple_index;
pub mod target;
pub mod wheel_name;

pub use location::{InputError, Location};
pub use pep440_rs::{Version, VersionSpecifiers};
pub use pep508_rs::{ExtraName, MarkerTree, PackageName, Requirement};

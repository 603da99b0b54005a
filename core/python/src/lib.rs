//! The vocabulary of Python packaging, on top of `pep440_rs` and `pep508_rs`: package names,
//! versions, PEP 508 requirements and markers, core metadata (`METADATA`, `PKG-INFO`,
//! `requires.txt`), `entry_points.txt`, wheel and sdist file names, pip requirements files, and
//! the target a resolution or an image is for (a CPython version on a Linux platform with a glibc)
//! with the wheel tags it installs. Every reader keeps the file and line of what it read.
//!
//! Pure text and values: no archives, no network, no command line. Depends only on
//! `lastmile-fs` (for [`Location`]) among lastmile's crates.

pub mod entry_points;
pub mod filename;
pub mod metadata;
pub mod name_glob;
pub mod requirement;
pub mod requirement_lines;
pub mod requirements_file;
pub mod target;

mod rootfs;
mod tags;

pub use lastmile_fs::{InputError, Location};
pub use name_glob::NameGlobs;
pub use pep440_rs::{Operator, Version, VersionSpecifier, VersionSpecifiers};
pub use pep508_rs::{ExtraName, MarkerEnvironment, MarkerTree, PackageName, Requirement, VersionOrUrl};
pub use rootfs::installed_debs;
pub use tags::TagRanks;
pub use target::{Target, TargetError};

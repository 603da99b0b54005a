//! Python distributions, read without unpacking or importing anything: wheels and sdists (their
//! metadata read from inside the archive), installed `*.dist-info` and `*.egg-info` folders, and
//! `RECORD` files (the hash of every installed file, as installers write and check them).
//!
//! Depends on `lastmile-python` (core metadata, requirements) and `lastmile-fs`; knows nothing of
//! indexes, the network or the command line.

pub mod record;

mod installed;
mod sdist;
mod wheel;

use std::collections::BTreeMap;
use std::path::Path;

use lastmile_fs::{InputError, Location};
use lastmile_python::metadata::CoreMetadata;
use lastmile_python::requirement::RawDependency;

pub use installed::{read_dist_info, read_egg_info};
pub use sdist::{read_sdist, read_sdist_as};
pub use wheel::{metadata_from_text, read_wheel, read_wheel_from, wheel_metadata_text};

/// The most one metadata file inside a wheel or sdist (`METADATA`, `PKG-INFO`, `requires.txt`,
/// `entry_points.txt`) may hold once decompressed: real ones are kilobytes, and a compressed
/// entry can claim any size, so the bound holds while decompressing.
pub const METADATA_LIMIT: u64 = 16 << 20;

/// What a distribution declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistMetadata {
    pub metadata: CoreMetadata,
    /// Its dependencies (for an sdist with dynamic metadata, from its `*.egg-info/requires.txt`).
    pub dependencies: Vec<RawDependency>,
    pub console_scripts: BTreeMap<String, String>,
    /// Set when the dependencies could not be known (for example an sdist with dynamic metadata
    /// and no `requires.txt`).
    pub warning: Option<String>,
}

/// A distribution could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DistError {
    /// The file (or an entry inside an archive) could not be read.
    #[error("{location}: cannot read: {source}")]
    Read {
        location: Location,
        #[source]
        source: std::io::Error,
    },
    /// The archive is not what its name says, or lacks what a distribution must hold.
    #[error("{location}: {problem}")]
    Archive { location: Location, problem: String },
    /// A metadata file inside is malformed (with its file and line).
    #[error(transparent)]
    Metadata(#[from] InputError),
}

impl DistError {
    fn read(location: &Location, source: impl Into<std::io::Error>) -> Self {
        DistError::Read {
            location: location.clone(),
            source: source.into(),
        }
    }

    fn archive(location: &Location, problem: impl Into<String>) -> Self {
        DistError::Archive {
            location: location.clone(),
            problem: problem.into(),
        }
    }
}

/// The kinds of archive a distribution comes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveKind {
    Wheel,
    SdistTarGz,
    SdistZip,
}

impl ArchiveKind {
    /// Recognise a distribution archive by its file name.
    pub fn of(path: &Path) -> Option<Self> {
        let name = path.file_name()?.to_str()?;
        if name.ends_with(".whl") {
            Some(ArchiveKind::Wheel)
        } else if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
            Some(ArchiveKind::SdistTarGz)
        } else if name.ends_with(".zip") {
            Some(ArchiveKind::SdistZip)
        } else {
            None
        }
    }
}

/// The console scripts of an `entry_points.txt`, if there is one.
fn scripts_of(text: Option<&str>, location: &Location) -> Result<BTreeMap<String, String>, InputError> {
    match text {
        Some(text) => Ok(lastmile_python::entry_points::parse(text, location)?
            .remove("console_scripts")
            .unwrap_or_default()),
        None => Ok(BTreeMap::new()),
    }
}

//! Read the metadata of built or installed distributions: wheels, sdists (`.tar.gz`, `.zip`),
//! installed `*.dist-info` and `*.egg-info` folders, without unpacking or importing anything.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use crate::location::{InputError, Location};
use crate::metadata::{CoreMetadata, parse_requires_txt};
use crate::requirement::RawDependency;

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

fn io_error(location: &Location, err: impl std::fmt::Display) -> InputError {
    InputError::new(location.clone(), format!("cannot read: {err}"))
}

fn scripts_of(text: Option<&str>, location: &Location) -> Result<BTreeMap<String, String>, InputError> {
    match text {
        Some(text) => Ok(crate::entry_points::parse(text, location)?
            .remove("console_scripts")
            .unwrap_or_default()),
        None => Ok(BTreeMap::new()),
    }
}

/// Read a wheel's `*.dist-info/METADATA` (and `entry_points.txt`) from inside the zip.
pub fn read_wheel(path: &Path) -> Result<DistMetadata, InputError> {
    let display = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| io_error(&Location::file(&display), e))?;
    read_wheel_from(std::io::BufReader::new(file), &display)
}

/// Read a wheel's metadata from any seekable reader (a file, or a remote file read by byte
/// ranges); `display` names it in errors.
pub fn read_wheel_from<R: Read + std::io::Seek>(
    reader: R,
    display: &str,
) -> Result<DistMetadata, InputError> {
    let location = Location::file(display);
    let mut zip = zip::ZipArchive::new(reader)
        .map_err(|e| InputError::new(location.clone(), format!("not a wheel (zip): {e}")))?;
    let names: Vec<String> = zip.file_names().map(str::to_owned).collect();
    let metadata_name = names
        .iter()
        .filter(|n| n.ends_with(".dist-info/METADATA") && n.matches('/').count() == 1)
        .min()
        .ok_or_else(|| InputError::new(location.clone(), "no *.dist-info/METADATA in the wheel"))?
        .clone();
    let dist_info = metadata_name.trim_end_matches("METADATA").to_owned();
    let mut read = |name: &str| -> Result<Option<String>, InputError> {
        let mut entry = match zip.by_name(name) {
            Ok(entry) => entry,
            Err(zip::result::ZipError::FileNotFound) => return Ok(None),
            Err(e) => return Err(io_error(&location, e)),
        };
        let mut text = String::new();
        entry
            .read_to_string(&mut text)
            .map_err(|e| io_error(&Location::file(format!("{display}!{name}")), e))?;
        Ok(Some(text))
    };
    let text = read(&metadata_name)?.unwrap_or_default();
    let entry_points = read(&format!("{dist_info}entry_points.txt"))?;
    let meta_location = Location::file(format!("{display}!{metadata_name}"));
    let metadata = CoreMetadata::parse(&text, &meta_location)?;
    let ep_location = Location::file(format!("{display}!{dist_info}entry_points.txt"));
    Ok(DistMetadata {
        dependencies: metadata.requires_dist.clone(),
        console_scripts: scripts_of(entry_points.as_deref(), &ep_location)?,
        metadata,
        warning: None,
    })
}

/// The text of a wheel's `*.dist-info/METADATA`, read from any seekable reader.
pub fn wheel_metadata_text<R: Read + std::io::Seek>(reader: R, display: &str) -> Result<String, InputError> {
    let location = Location::file(display);
    let mut zip = zip::ZipArchive::new(reader)
        .map_err(|e| InputError::new(location.clone(), format!("not a wheel (zip): {e}")))?;
    let name = zip
        .file_names()
        .filter(|n| n.ends_with(".dist-info/METADATA") && n.matches('/').count() == 1)
        .min()
        .ok_or_else(|| InputError::new(location.clone(), "no *.dist-info/METADATA in the wheel"))?
        .to_owned();
    let mut entry = zip.by_name(&name).map_err(|e| io_error(&location, e))?;
    let mut text = String::new();
    entry
        .read_to_string(&mut text)
        .map_err(|e| io_error(&Location::file(format!("{display}!{name}")), e))?;
    Ok(text)
}

/// Metadata served on its own (a PEP 658 `.metadata` file): the dependencies only, no entry points.
pub fn metadata_from_text(text: &str, display: &str) -> Result<DistMetadata, InputError> {
    let metadata = CoreMetadata::parse(text, &Location::file(display))?;
    Ok(DistMetadata {
        dependencies: metadata.requires_dist.clone(),
        console_scripts: BTreeMap::new(),
        metadata,
        warning: None,
    })
}

/// Read an sdist's top-level `PKG-INFO`; its `Requires-Dist` when the metadata is static
/// (PEP 643), else the `*.egg-info/requires.txt` setuptools ships inside the sdist.
pub fn read_sdist(path: &Path) -> Result<DistMetadata, InputError> {
    let display = path.display().to_string();
    let location = Location::file(&display);
    let wanted = |name: &str| {
        let parts: Vec<&str> = name.trim_start_matches("./").split('/').collect();
        match parts.as_slice() {
            [_, "PKG-INFO"] => true,
            [_, egg, file] | [_, _, egg, file] => {
                egg.ends_with(".egg-info") && (*file == "requires.txt" || *file == "entry_points.txt")
            }
            _ => false,
        }
    };
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    let mut keep = |name: String, reader: &mut dyn Read| -> Result<(), InputError> {
        if wanted(&name) {
            let mut text = String::new();
            reader
                .read_to_string(&mut text)
                .map_err(|e| io_error(&Location::file(format!("{display}!{name}")), e))?;
            files.insert(name.trim_start_matches("./").to_owned(), text);
        }
        Ok(())
    };
    match ArchiveKind::of(path) {
        Some(ArchiveKind::SdistZip) => {
            let file = std::fs::File::open(path).map_err(|e| io_error(&location, e))?;
            let mut zip = zip::ZipArchive::new(file)
                .map_err(|e| InputError::new(location.clone(), format!("not a zip archive: {e}")))?;
            for index in 0..zip.len() {
                let mut entry = zip.by_index(index).map_err(|e| io_error(&location, e))?;
                let name = entry.name().to_owned();
                keep(name, &mut entry)?;
            }
        }
        _ => {
            let file = std::fs::File::open(path).map_err(|e| io_error(&location, e))?;
            let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
            let entries = archive
                .entries()
                .map_err(|e| InputError::new(location.clone(), format!("not a .tar.gz: {e}")))?;
            for entry in entries {
                let mut entry =
                    entry.map_err(|e| InputError::new(location.clone(), format!("corrupt archive: {e}")))?;
                let name = entry
                    .path()
                    .map_err(|e| io_error(&location, e))?
                    .to_string_lossy()
                    .into_owned();
                keep(name, &mut entry)?;
            }
        }
    }
    let (pkg_info_name, pkg_info) = files
        .iter()
        .filter(|(n, _)| n.ends_with("/PKG-INFO"))
        .min_by_key(|(n, _)| n.len())
        .ok_or_else(|| InputError::new(location.clone(), "no PKG-INFO at the top of the sdist"))?;
    let metadata = CoreMetadata::parse(pkg_info, &Location::file(format!("{display}!{pkg_info_name}")))?;
    let egg_file = |file: &str| {
        files
            .iter()
            .find(|(n, _)| n.ends_with(&format!(".egg-info/{file}")))
    };
    let mut warning = None;
    let dependencies = if metadata.has_static_dependencies() {
        metadata.requires_dist.clone()
    } else if let Some((name, text)) = egg_file("requires.txt") {
        parse_requires_txt(text, &Location::file(format!("{display}!{name}")))?
    } else if !metadata.requires_dist.is_empty() {
        metadata.requires_dist.clone()
    } else {
        warning = Some(format!(
            "{display}: metadata {} is dynamic and the sdist has no egg-info requires.txt; its dependencies are unknown",
            metadata.metadata_version.as_deref().unwrap_or("(no version)")
        ));
        Vec::new()
    };
    let console_scripts = match egg_file("entry_points.txt") {
        Some((name, text)) => scripts_of(Some(text), &Location::file(format!("{display}!{name}")))?,
        None => BTreeMap::new(),
    };
    Ok(DistMetadata {
        metadata,
        dependencies,
        console_scripts,
        warning,
    })
}

/// Read the header block of a core-metadata file: everything up to the first blank line. The
/// long description after it (often most of the file) is never read.
fn read_headers(path: &Path, location: &Location) -> Result<String, InputError> {
    use std::io::BufRead;
    let file = std::fs::File::open(path).map_err(|e| io_error(location, e))?;
    let mut reader = std::io::BufReader::with_capacity(16 * 1024, file);
    let mut text = String::new();
    loop {
        let start = text.len();
        let read = reader.read_line(&mut text).map_err(|e| io_error(location, e))?;
        if read == 0 || text[start..].trim_end_matches(['\n', '\r']).is_empty() {
            return Ok(text);
        }
    }
}

/// Read an installed `*.dist-info` folder.
pub fn read_dist_info(dir: &Path) -> Result<DistMetadata, InputError> {
    let path = dir.join("METADATA");
    let location = Location::file(path.display().to_string());
    let text = read_headers(&path, &location)?;
    let metadata = CoreMetadata::parse(&text, &location)?;
    let ep_path = dir.join("entry_points.txt");
    let ep = std::fs::read_to_string(&ep_path).ok();
    Ok(DistMetadata {
        dependencies: metadata.requires_dist.clone(),
        console_scripts: scripts_of(ep.as_deref(), &Location::file(ep_path.display().to_string()))?,
        metadata,
        warning: None,
    })
}

/// Read an installed `*.egg-info`: a folder with `PKG-INFO` and `requires.txt`, or a single
/// PKG-INFO-format file (old distutils installs).
pub fn read_egg_info(path: &Path) -> Result<DistMetadata, InputError> {
    let (pkg_info, dir) = if path.is_dir() {
        (path.join("PKG-INFO"), Some(path))
    } else {
        (path.to_path_buf(), None)
    };
    let location = Location::file(pkg_info.display().to_string());
    let text = read_headers(&pkg_info, &location)?;
    let metadata = CoreMetadata::parse(&text, &location)?;
    let mut dependencies = Vec::new();
    let mut console_scripts = BTreeMap::new();
    if let Some(dir) = dir {
        let requires = dir.join("requires.txt");
        if let Ok(text) = std::fs::read_to_string(&requires) {
            dependencies = parse_requires_txt(&text, &Location::file(requires.display().to_string()))?;
        }
        let ep = dir.join("entry_points.txt");
        console_scripts = scripts_of(
            std::fs::read_to_string(&ep).ok().as_deref(),
            &Location::file(ep.display().to_string()),
        )?;
    }
    Ok(DistMetadata {
        metadata,
        dependencies,
        console_scripts,
        warning: None,
    })
}

//! Source distributions: `PKG-INFO` at the top, and the egg-info files setuptools ships inside.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use lastmile_fs::Location;
use lastmile_python::metadata::{CoreMetadata, parse_requires_txt};

use crate::{ArchiveKind, DistError, DistMetadata, scripts_of};

/// The files of an sdist that carry metadata: its `PKG-INFO`s and the egg-info `requires.txt`
/// and `entry_points.txt`, by their path inside it.
fn metadata_files(path: &Path, display: &str) -> Result<BTreeMap<String, String>, DistError> {
    let location = Location::file(display);
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
    let mut keep = |name: String, reader: &mut dyn Read| -> Result<(), DistError> {
        if wanted(&name) {
            // Bounded while decompressing: the sizes an archive declares are not believed.
            let text = lastmile_fs::read_text_limited(reader, crate::METADATA_LIMIT)
                .map_err(|e| DistError::read(&Location::file(format!("{display}!{name}")), e))?;
            files.insert(name.trim_start_matches("./").to_owned(), text);
        }
        Ok(())
    };
    let file = std::fs::File::open(path).map_err(|e| DistError::read(&location, e))?;
    if ArchiveKind::of(path) == Some(ArchiveKind::SdistZip) {
        let mut zip = zip::ZipArchive::new(file)
            .map_err(|e| DistError::archive(&location, format!("not a zip archive: {e}")))?;
        for index in 0..zip.len() {
            let mut entry = zip.by_index(index).map_err(|e| DistError::read(&location, e))?;
            let name = entry.name().to_owned();
            keep(name, &mut entry)?;
        }
        return Ok(files);
    }
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let entries = archive
        .entries()
        .map_err(|e| DistError::archive(&location, format!("not a .tar.gz: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| DistError::archive(&location, format!("corrupt archive: {e}")))?;
        let name = entry
            .path()
            .map_err(|e| DistError::read(&location, e))?
            .to_string_lossy()
            .into_owned();
        keep(name, &mut entry)?;
    }
    Ok(files)
}

/// Read an sdist's top-level `PKG-INFO`; its `Requires-Dist` when the metadata is static
/// (PEP 643), else the `*.egg-info/requires.txt` setuptools ships inside the sdist.
pub fn read_sdist(path: &Path) -> Result<DistMetadata, DistError> {
    read_sdist_as(path, &path.display().to_string())
}

/// [`read_sdist`], naming the file `display` in errors and warnings (a URL for a downloaded one).
pub fn read_sdist_as(path: &Path, display: &str) -> Result<DistMetadata, DistError> {
    let location = Location::file(display);
    let files = metadata_files(path, display)?;
    let (pkg_info_name, pkg_info) = files
        .iter()
        .filter(|(n, _)| n.ends_with("/PKG-INFO"))
        .min_by_key(|(n, _)| n.len())
        .ok_or_else(|| DistError::archive(&location, "no PKG-INFO at the top of the sdist"))?;
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

//! Installed distributions: `*.dist-info` folders (PEP 376) and `*.egg-info` files or folders.

use std::collections::BTreeMap;
use std::path::Path;

use lastmile_fs::Location;
use lastmile_python::metadata::{CoreMetadata, parse_requires_txt};

use crate::{DistError, DistMetadata, scripts_of};

/// Read the header block of a core-metadata file: everything up to the first blank line. The
/// long description after it (often most of the file) is never read.
fn read_headers(path: &Path, location: &Location) -> Result<String, DistError> {
    use std::io::BufRead;
    let file = std::fs::File::open(path).map_err(|e| DistError::read(location, e))?;
    let mut reader = std::io::BufReader::with_capacity(16 * 1024, file);
    let mut text = String::new();
    loop {
        let start = text.len();
        let read = reader
            .read_line(&mut text)
            .map_err(|e| DistError::read(location, e))?;
        if read == 0 || text[start..].trim_end_matches(['\n', '\r']).is_empty() {
            return Ok(text);
        }
    }
}

/// Read an installed `*.dist-info` folder.
pub fn read_dist_info(dir: &Path) -> Result<DistMetadata, DistError> {
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
pub fn read_egg_info(path: &Path) -> Result<DistMetadata, DistError> {
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

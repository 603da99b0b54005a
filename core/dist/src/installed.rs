//! Installed distributions: `*.dist-info` folders (PEP 376) and `*.egg-info` files or folders.

use std::collections::BTreeMap;
use std::path::Path;

use lastmile_fs::Location;
use lastmile_python::metadata::{CoreMetadata, parse_requires_txt};

use crate::{DistError, DistMetadata, scripts_of};

/// Read the header block of a core-metadata file: everything up to the first blank line. The
/// long description after it (often most of the file) is never read.
fn read_headers(path: &Path, location: &Location) -> Result<String, DistError> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).map_err(|e| DistError::read(location, e))?;
    // Whole chunks, then the text up to the first blank line: one or two reads for most files,
    // whatever the length of the description after it.
    let mut bytes = Vec::with_capacity(16 * 1024);
    let end = loop {
        // A blank line may straddle the chunks: search from just before the new bytes.
        let start = bytes.len().saturating_sub(3);
        let read = (&mut file)
            .take(16 * 1024)
            .read_to_end(&mut bytes)
            .map_err(|e| DistError::read(location, e))?;
        if let Some(end) = header_end(&bytes[start..]) {
            break start + end;
        }
        if read == 0 {
            break bytes.len();
        }
        if bytes.len() as u64 > lastmile_fs::TEXT_LIMIT {
            return Err(DistError::read(
                location,
                std::io::Error::new(std::io::ErrorKind::InvalidData, "headers larger than 64 MiB"),
            ));
        }
    };
    bytes.truncate(end);
    String::from_utf8(bytes).map_err(|e| {
        DistError::read(
            location,
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "not UTF-8 text (byte {} is invalid)",
                    e.utf8_error().valid_up_to()
                ),
            ),
        )
    })
}

/// Where the header block ends (after its last line's newline), if the blank line is in `bytes`.
fn header_end(bytes: &[u8]) -> Option<usize> {
    let mut at = 0;
    while let Some(found) = bytes[at..].iter().position(|&b| b == b'\n') {
        let next = at + found + 1;
        match bytes.get(next) {
            Some(b'\n') => return Some(next),
            Some(b'\r') if bytes.get(next + 1) == Some(&b'\n') => return Some(next),
            _ => {}
        }
        at = next;
    }
    None
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The headers end at the first blank line wherever it falls against the 16 KiB reads,
    /// with `\n` or `\r\n` line ends; the description after it is never taken for headers.
    #[test]
    fn headers_end_at_the_blank_line_across_read_boundaries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("METADATA");
        for eol in ["\n", "\r\n"] {
            // Every position of the blank line around the first boundary, and one far past it.
            for pad in (16 * 1024 - 45..16 * 1024).chain([40_000usize]) {
                let head = format!("Metadata-Version: 2.1{eol}Name: a{eol}Requires-Dist: b{eol}License: x");
                let filler = "y".repeat(pad.saturating_sub(head.len()));
                let text = format!(
                    "{head}{filler}{eol}Requires-Dist: c{eol}{eol}Requires-Dist: not-a-header{eol}{}",
                    "z".repeat(50_000)
                );
                std::fs::write(&path, &text).unwrap();
                let location = Location::file("METADATA");
                let headers = read_headers(&path, &location).unwrap();
                let meta = CoreMetadata::parse(&headers, &location).unwrap();
                let deps: Vec<&str> = meta.requires_dist.iter().map(|d| d.text.as_str()).collect();
                assert_eq!(deps, ["b", "c"], "pad {pad}, {eol:?}");
                assert!(!headers.contains("not-a-header"));
            }
        }
    }
}

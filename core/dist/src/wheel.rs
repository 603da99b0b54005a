//! Wheels (PEP 427): the metadata inside, read from a file or any seekable reader (such as a
//! remote file read by byte ranges).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use lastmile_fs::Location;
use lastmile_python::metadata::CoreMetadata;

use crate::{DistError, DistMetadata, scripts_of};

/// Read a wheel's `*.dist-info/METADATA` (and `entry_points.txt`) from inside the zip.
pub fn read_wheel(path: &Path) -> Result<DistMetadata, DistError> {
    let display = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| DistError::read(&Location::file(&display), e))?;
    read_wheel_from(std::io::BufReader::new(file), &display)
}

/// A wheel's zip, opened, with the name of its `*.dist-info/METADATA`.
struct WheelZip<R> {
    zip: zip::ZipArchive<R>,
    metadata: String,
    location: Location,
    display: String,
}

impl<R: Read + std::io::Seek> WheelZip<R> {
    fn open(reader: R, display: &str) -> Result<Self, DistError> {
        let location = Location::file(display);
        let zip = zip::ZipArchive::new(reader)
            .map_err(|e| DistError::archive(&location, format!("not a wheel (zip): {e}")))?;
        let metadata = zip
            .file_names()
            .filter(|n| n.ends_with(".dist-info/METADATA") && n.matches('/').count() == 1)
            .min()
            .ok_or_else(|| DistError::archive(&location, "no *.dist-info/METADATA in the wheel"))?
            .to_owned();
        Ok(Self {
            zip,
            metadata,
            location,
            display: display.to_owned(),
        })
    }

    /// `katcp-0.9.4.dist-info/`.
    fn dist_info(&self) -> &str {
        self.metadata.trim_end_matches("METADATA")
    }

    /// A member's text; `None` when the wheel has no such member.
    fn text(&mut self, name: &str) -> Result<Option<String>, DistError> {
        let mut entry = match self.zip.by_name(name) {
            Ok(entry) => entry,
            Err(zip::result::ZipError::FileNotFound) => return Ok(None),
            Err(e) => return Err(DistError::read(&self.location, e)),
        };
        // Bounded while decompressing: the sizes a zip declares are not believed.
        let text = lastmile_fs::read_text_limited(&mut entry, crate::METADATA_LIMIT)
            .map_err(|e| DistError::read(&Location::file(format!("{}!{name}", self.display)), e))?;
        Ok(Some(text))
    }

    fn member_location(&self, name: &str) -> Location {
        Location::file(format!("{}!{name}", self.display))
    }
}

/// Read a wheel's metadata from any seekable reader (a file, or a remote file read by byte
/// ranges); `display` names it in errors.
pub fn read_wheel_from<R: Read + std::io::Seek>(reader: R, display: &str) -> Result<DistMetadata, DistError> {
    let mut wheel = WheelZip::open(reader, display)?;
    let metadata_name = wheel.metadata.clone();
    let entry_points_name = format!("{}entry_points.txt", wheel.dist_info());
    let text = wheel.text(&metadata_name)?.unwrap_or_default();
    let entry_points = wheel.text(&entry_points_name)?;
    let metadata = CoreMetadata::parse(&text, &wheel.member_location(&metadata_name))?;
    Ok(DistMetadata {
        dependencies: metadata.requires_dist.clone(),
        console_scripts: scripts_of(
            entry_points.as_deref(),
            &wheel.member_location(&entry_points_name),
        )?,
        metadata,
        warning: None,
    })
}

/// The text of a wheel's `*.dist-info/METADATA`, read from any seekable reader.
pub fn wheel_metadata_text<R: Read + std::io::Seek>(reader: R, display: &str) -> Result<String, DistError> {
    let mut wheel = WheelZip::open(reader, display)?;
    let name = wheel.metadata.clone();
    Ok(wheel.text(&name)?.unwrap_or_default())
}

/// Metadata served on its own (a PEP 658 `.metadata` file): the dependencies only, no entry points.
pub fn metadata_from_text(text: &str, display: &str) -> Result<DistMetadata, DistError> {
    let metadata = CoreMetadata::parse(text, &Location::file(display))?;
    Ok(DistMetadata {
        dependencies: metadata.requires_dist.clone(),
        console_scripts: BTreeMap::new(),
        metadata,
        warning: None,
    })
}

//! Unpacking an sdist to build it: every entry inside the target folder (tar and zip readers
//! refuse `..` and absolute paths), links left out, and at most a bounded number of bytes, so
//! a compressed bomb stops with a clear error instead of filling the disk.

use std::io::Read;
use std::path::Path;

use super::Failure;

/// The most an sdist may unpack to.
const LIMIT: u64 = 2 << 30;

pub(crate) fn unpack(archive: &Path, into: &Path) -> Result<(), Failure> {
    std::fs::create_dir_all(into)?;
    let file = std::fs::File::open(archive)?;
    let bad = |e: &dyn std::fmt::Display| Failure::Unpack(e.to_string());
    let mut total = 0u64;
    let mut count = |size: u64| {
        total += size;
        if total > LIMIT {
            Err(Failure::Unpack(format!(
                "unpacks to more than {} GiB; not built",
                LIMIT >> 30
            )))
        } else {
            Ok(())
        }
    };
    if archive.to_string_lossy().ends_with(".zip") {
        let mut zip = zip::ZipArchive::new(file).map_err(|e| bad(&e))?;
        for index in 0..zip.len() {
            let mut entry = zip.by_index(index).map_err(|e| bad(&e))?;
            let Some(path) = entry.enclosed_name() else {
                return Err(Failure::Unpack(format!(
                    "{}: a path outside the sdist",
                    entry.name()
                )));
            };
            let target = into.join(path);
            if entry.is_dir() {
                std::fs::create_dir_all(&target)?;
                continue;
            }
            if entry.unix_mode().is_some_and(|m| m & 0o170000 == 0o120000) {
                continue;
            }
            count(entry.size())?;
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let mut out = std::fs::File::create(&target)?;
            std::io::copy(&mut (&mut entry).take(LIMIT), &mut out).map_err(|e| bad(&e))?;
        }
        return Ok(());
    }
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    for entry in archive.entries().map_err(|e| bad(&e))? {
        let mut entry = entry.map_err(|e| bad(&e))?;
        match entry.header().entry_type() {
            tar::EntryType::Regular | tar::EntryType::Directory | tar::EntryType::Continuous => {}
            // Links, devices and the like: not needed to build, and not safe to make.
            _ => continue,
        }
        count(entry.size())?;
        // unpack_in refuses entries that would land outside `into`.
        if !entry.unpack_in(into).map_err(|e| bad(&e))? {
            return Err(Failure::Unpack(format!(
                "{}: a path outside the sdist",
                entry.path().map(|p| p.display().to_string()).unwrap_or_default()
            )));
        }
    }
    Ok(())
}

//! Unpacking an image into a new folder with numeric owners, modes, times and capabilities,
//! refusing any entry that would land outside it, hashing the bytes as they are read: the image
//! is opened once, and the folder is kept only if those bytes hash to the digest expected.

use std::io::{BufReader, Read};
use std::path::{Component, Path};

use lastmile_fs::{Sha256, Sha256Reader};

use crate::{ImageError, ImageFile};

/// Unpack the image at `path` into `target` (a new folder), keeping it only if the bytes
/// unpacked hash to `expected`; on any error `target` is removed.
pub fn unpack(path: &Path, target: &Path, expected: &Sha256) -> Result<(), ImageError> {
    let image = ImageFile::open(path)?;
    std::fs::create_dir(target).map_err(|e| ImageError::io(target, e))?;
    let result = unpack_into(image, target, expected);
    if result.is_err() {
        let _ = std::fs::remove_dir_all(target);
    }
    result
}

fn unpack_into(image: ImageFile, target: &Path, expected: &Sha256) -> Result<(), ImageError> {
    let path = image.path.clone();
    let read = |e| ImageError::io(&path, e);
    let hashing = Sha256Reader::new(Interruptible(image.file));
    let gz = flate2::read::MultiGzDecoder::new(BufReader::with_capacity(1 << 20, hashing));
    let mut archive = tar::Archive::new(gz);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    archive.set_preserve_mtime(true);
    archive.set_unpack_xattrs(true);
    archive.set_overwrite(true);
    for entry in archive.entries().map_err(read)? {
        let mut entry = entry.map_err(read)?;
        let name = entry.path().map_err(read)?.into_owned();
        let shown = name.display().to_string();
        let escapes = name.components().any(|c| {
            matches!(
                c,
                Component::ParentDir | Component::RootDir | Component::Prefix(_)
            )
        });
        if escapes {
            return Err(ImageError::Escapes { path, entry: shown });
        }
        match entry.unpack_in(target) {
            Ok(true) => {}
            Ok(false) => return Err(ImageError::Escapes { path, entry: shown }),
            Err(source) if is_truncation(&source) => return Err(ImageError::io(&path, source)),
            Err(source) => {
                return Err(ImageError::Unpack {
                    path,
                    entry: shown,
                    source,
                });
            }
        }
    }
    // The rest of the stream (the archive's end, gzip trailers) is hashed too: all of the file.
    let mut gz = archive.into_inner();
    std::io::copy(&mut gz, &mut std::io::sink()).map_err(read)?;
    let (found, _) = gz.into_inner().into_inner().finish().map_err(read)?;
    if &found != expected {
        return Err(ImageError::Mismatch {
            path,
            found,
            expected: *expected,
        });
    }
    Ok(())
}

/// tar wraps a read error of an entry's data in its own message; a stream ending early is still
/// a truncated image.
fn is_truncation(error: &std::io::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = cause {
        if error
            .downcast_ref::<std::io::Error>()
            .is_some_and(crate::error::truncates)
        {
            return true;
        }
        cause = error.source();
    }
    false
}

/// A reader that stops with an error when the run is interrupted.
struct Interruptible<R>(R);

impl<R: Read> Read for Interruptible<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        lastmile_process::interrupt::check_io()?;
        self.0.read(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_gz(path: &Path, entries: &[(&str, &[u8])]) -> Sha256 {
        let gz =
            flate2::write::GzEncoder::new(std::fs::File::create(path).unwrap(), flate2::Compression::fast());
        let mut builder = tar::Builder::new(gz);
        for (name, data) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o640);
            header.set_uid(1234);
            header.set_gid(4321);
            // set_path refuses `..`; the raw name field does not, as a hostile archive would.
            header.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
            header.set_cksum();
            builder.append(&header, *data).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap();
        Sha256::of_file(path).unwrap()
    }

    #[test]
    fn unpacks_with_numeric_owners_and_refuses_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("image.tar.gz");
        let digest = tar_gz(&image, &[("etc/os-release", b"ID=debian\n")]);
        let target = dir.path().join("rootfs");
        unpack(&image, &target, &digest).unwrap();
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(target.join("etc/os-release")).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o640);
        if rustix::process::geteuid().is_root() {
            assert_eq!((meta.uid(), meta.gid()), (1234, 4321));
        }

        let hostile = dir.path().join("hostile.tar.gz");
        let digest = tar_gz(&hostile, &[("../escaped", b"x")]);
        let other = dir.path().join("other");
        let err = unpack(&hostile, &other, &digest).unwrap_err().to_string();
        assert!(err.contains("leaves the image"), "{err}");
        assert!(!dir.path().join("escaped").exists());
        assert!(!other.exists(), "a refused unpack leaves nothing");
    }

    #[test]
    fn bytes_that_are_not_the_expected_ones_are_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("image.tar.gz");
        let baked = tar_gz(&image, &[("etc/os-release", b"ID=debian\n")]);
        // Replaced after it was verified: another archive under the verified digest.
        tar_gz(&image, &[("etc/os-release", b"ID=evil\n")]);
        let target = dir.path().join("rootfs");
        let err = unpack(&image, &target, &baked).unwrap_err().to_string();
        assert!(err.contains("changed or replaced after it was baked"), "{err}");
        assert!(!target.exists(), "the unverified bytes were kept");
    }

    #[test]
    fn a_truncated_image_is_named_and_called_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("image.tar.gz");
        let data = vec![7u8; 300_000];
        let digest = tar_gz(&image, &[("big", &data)]);
        let bytes = std::fs::read(&image).unwrap();
        std::fs::write(&image, &bytes[..bytes.len() / 2]).unwrap();
        let err = unpack(&image, &dir.path().join("t"), &digest)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!("{}: truncated", image.display())),
            "{err}"
        );
        let err = crate::manifest(&image).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("{}: truncated", image.display())),
            "{err}"
        );
    }
}

//! The image file: checked against the candidate's digest before anything is made from it, and
//! unpacked with numeric owners, modes, times and capabilities, refusing any entry that would
//! land outside the target.

use std::io::{BufReader, Read};
use std::path::{Component, Path};

use anyhow::{Context, bail};
use lastmile_fs::Sha256;

/// The image's sha256 must be the candidate's: an image changed after the bake (or another
/// image under the same name) is refused before anything is deployed.
pub fn verify(image: &Path, expected: &Sha256) -> anyhow::Result<()> {
    let file = std::fs::File::open(image).with_context(|| format!("opening {}", image.display()))?;
    let mut reader = Interruptible(BufReader::with_capacity(1 << 20, file));
    let found = Sha256::of_reader(&mut reader).with_context(|| format!("reading {}", image.display()))?;
    if &found != expected {
        bail!(
            "{}: sha256 {found} is not the candidate's {expected}: the image was changed or replaced after it was baked; refusing to deploy it",
            image.display()
        );
    }
    Ok(())
}

/// Unpack `image` (a gzip'd tar, possibly of many members) into `target`, a new folder.
pub fn unpack(image: &Path, target: &Path) -> anyhow::Result<()> {
    let shown = image.display().to_string();
    std::fs::create_dir(target).with_context(|| format!("creating {}", target.display()))?;
    let file = std::fs::File::open(image).with_context(|| format!("opening {shown}"))?;
    let gz = flate2::read::MultiGzDecoder::new(BufReader::with_capacity(1 << 20, file));
    let mut archive = tar::Archive::new(Interruptible(gz));
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    archive.set_preserve_mtime(true);
    archive.set_unpack_xattrs(true);
    archive.set_overwrite(true);
    for entry in archive.entries().with_context(|| format!("reading {shown}"))? {
        let mut entry = entry.with_context(|| format!("reading {shown}"))?;
        let path = entry
            .path()
            .with_context(|| format!("{shown}: an entry's name"))?
            .into_owned();
        let escapes = path.components().any(|c| {
            matches!(
                c,
                Component::ParentDir | Component::RootDir | Component::Prefix(_)
            )
        });
        if escapes {
            bail!(
                "{shown}: entry {} leaves the image; refusing the image",
                path.display()
            );
        }
        let unpacked = entry
            .unpack_in(target)
            .with_context(|| format!("{shown}: unpacking {}", path.display()))?;
        if !unpacked {
            bail!(
                "{shown}: entry {} leaves the image; refusing the image",
                path.display()
            );
        }
    }
    Ok(())
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

    fn tar_gz(path: &Path, entries: &[(&str, &[u8])]) {
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
    }

    #[test]
    fn unpacks_with_numeric_owners_and_refuses_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("image.tar.gz");
        tar_gz(&image, &[("etc/os-release", b"ID=debian\n")]);
        let target = dir.path().join("rootfs");
        unpack(&image, &target).unwrap();
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(target.join("etc/os-release")).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o640);
        if rustix::process::geteuid().is_root() {
            assert_eq!((meta.uid(), meta.gid()), (1234, 4321));
        }

        let hostile = dir.path().join("hostile.tar.gz");
        tar_gz(&hostile, &[("../escaped", b"x")]);
        let err = unpack(&hostile, &dir.path().join("other"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("leaves the image"), "{err}");
        assert!(!dir.path().join("escaped").exists());
    }

    #[test]
    fn a_changed_image_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("image.tar.gz");
        std::fs::write(&image, b"baked").unwrap();
        verify(&image, &Sha256::of(b"baked")).unwrap();
        std::fs::write(&image, b"tampered").unwrap();
        let err = verify(&image, &Sha256::of(b"baked")).unwrap_err().to_string();
        assert!(err.contains("refusing to deploy"), "{err}");
    }
}

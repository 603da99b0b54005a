//! The image file, checked against the candidate's digest before anything is made from it. (The
//! unpack hashes what it unpacks again: lastmile-image keeps a store entry only if those very
//! bytes are the candidate's.)

use std::path::Path;

use anyhow::bail;
use lastmile_fs::Sha256;
use lastmile_image::ImageFile;

/// The image's sha256 must be the candidate's: an image changed after the bake (or another
/// image under the same name) is refused before anything is deployed.
pub fn verify(image: &Path, expected: &Sha256) -> anyhow::Result<()> {
    let found = ImageFile::open(image)?.digest()?;
    if &found != expected {
        bail!(
            "{}: sha256 {found} is not the candidate's {expected}: the image was changed or replaced after it was baked; refusing to deploy it",
            image.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_image_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("image.tar.gz");
        std::fs::write(&image, b"baked").unwrap();
        verify(&image, &Sha256::of(b"baked")).unwrap();
        std::fs::write(&image, b"tampered").unwrap();
        let err = verify(&image, &Sha256::of(b"baked")).unwrap_err().to_string();
        assert!(err.contains("refusing to deploy"), "{err}");
        let err = verify(Path::new("/dev/zero"), &Sha256::of(b"baked"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a regular file"), "{err}");
    }
}

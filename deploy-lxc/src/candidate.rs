//! The candidate named on the command line: a `lastmile.candidate/v1` document (a file or stdin)
//! and the image it names, or the image itself, whose document is read from inside it.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use lastmile_documents::Document;
use lastmile_documents::candidate::{CandidateDocument, ImageName};
use lastmile_fs::Sha256;

/// A candidate to deploy: the document and the image file it names.
pub struct Candidate {
    pub document: CandidateDocument,
    pub image: PathBuf,
    pub digest: Sha256,
}

/// The candidate of `path` (`-` for stdin), its image at `image` if given.
pub fn load(path: &Path, image: Option<&Path>) -> anyhow::Result<Candidate> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.parse::<ImageName>().is_ok() {
        return from_image(path);
    }
    if path == Path::new("-") && lastmile_cli::input::stdin_is_terminal() {
        bail!("no candidate: give candidate.json, the image, or pipe bake-image's output in");
    }
    let (text, source) = lastmile_cli::input::read_path_or_stdin(path)
        .with_context(|| format!("reading {}", path.display()))?;
    let document = CandidateDocument::from_json(&text, &source)?;
    let Some(info) = document.image.clone() else {
        bail!("{source}: names no image (this is the manifest from inside an image); give the image itself");
    };
    let image = match image {
        Some(image) => image.to_owned(),
        None => image_beside(path, Path::new(&info.path)),
    };
    // Absolute from here on: the deployment document names it, and aqf-run re-hashes it from
    // wherever it runs.
    let image = std::path::absolute(&image).unwrap_or(image);
    if !image.is_file() {
        bail!(
            "{source}: the image {} is not there (give --image FILE)",
            image.display()
        );
    }
    // What is deployed is the image: the document beside it must say what the image says.
    let inside = lastmile_image::manifest(&image)?;
    if inside
        != (CandidateDocument {
            image: None,
            ..document.clone()
        })
    {
        bail!(
            "{source} does not describe the image {} (its services, packages or inputs differ from the manifest inside it): not that image's document",
            image.display()
        );
    }
    Ok(Candidate {
        document,
        image,
        digest: info.sha256,
    })
}

/// The image a document names, or the file of that name beside the document when the named
/// path is not there (the document was moved with its image).
fn image_beside(document: &Path, named: &Path) -> PathBuf {
    let beside = document
        .parent()
        .map(|dir| dir.join(named.file_name().unwrap_or_default()));
    match beside {
        Some(beside) if !named.exists() && document != Path::new("-") && beside.exists() => beside,
        _ => named.to_owned(),
    }
}

/// An image given directly: its digest is its own sha256, which its name must carry, and its
/// document is the candidate document inside it.
fn from_image(image: &Path) -> anyhow::Result<Candidate> {
    let shown = image.display().to_string();
    let digest = lastmile_image::ImageFile::open(image)?.digest()?;
    let name = image.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if !name.parse::<ImageName>().is_ok_and(|n| n.matches(&digest)) {
        bail!(
            "{shown}: its sha256 is {digest}, which its name does not start with: not the image it says it is"
        );
    }
    Ok(Candidate {
        document: lastmile_image::manifest(image)?,
        image: image.to_owned(),
        digest,
    })
}

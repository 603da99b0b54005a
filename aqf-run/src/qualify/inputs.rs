//! The inputs of a qualification: the deployment, the suites, and the candidate's manifest.

use std::path::Path;

use anyhow::{Context as _, bail};
use lastmile_documents::Document;
use lastmile_documents::candidate::CandidateDocument;
use lastmile_documents::deployment::{DeployedCandidate, DeploymentDocument};
use lastmile_image::ImageFile;

use super::Options;
use crate::suite::Suite;

/// The documents and suites a run reads, checked against each other.
pub struct Inputs {
    pub deployment: DeploymentDocument,
    /// The candidate the deployment runs.
    pub deployed: DeployedCandidate,
    pub suites: Vec<Suite>,
    pub manifest: Option<CandidateDocument>,
}

impl Inputs {
    pub fn read(options: &Options) -> anyhow::Result<Self> {
        let (text, source) = lastmile_cli::input::read_path_or_stdin(&options.deployment)
            .with_context(|| format!("reading {}", options.deployment.display()))?;
        let deployment = DeploymentDocument::from_json(&text, &source)?;
        let Some(deployed) = deployment.candidate.clone() else {
            bail!(
                "{source}: environment {} runs no candidate",
                deployment.environment
            );
        };
        let suites = options
            .suites
            .iter()
            .map(|p| crate::suite::load(p))
            .collect::<Result<Vec<_>, _>>()?;
        let manifest = manifest(options, &deployed)?;
        if let Some(info) = manifest.as_ref().and_then(|m| m.image.as_ref())
            && info.sha256 != deployed.digest
        {
            bail!(
                "the candidate document describes {}, but {} runs {}",
                info.sha256.short(12),
                deployment.environment,
                deployed.digest.short(12)
            );
        }
        Ok(Self {
            deployment,
            deployed,
            suites,
            manifest,
        })
    }
}

/// The candidate's manifest: `--candidate`, else the one inside the image the deployment names
/// (read from the image, never by running anything in a node), once the image is checked to be
/// the candidate deployed.
fn manifest(options: &Options, deployed: &DeployedCandidate) -> anyhow::Result<Option<CandidateDocument>> {
    if let Some(path) = &options.candidate {
        let shown = path.display().to_string();
        let text = lastmile_fs::read_text(path).with_context(|| format!("reading {shown}"))?;
        return Ok(Some(CandidateDocument::from_json(&text, &shown)?));
    }
    let image = Path::new(&deployed.image);
    let opened = match ImageFile::open(image) {
        Ok(opened) => opened,
        Err(e) => {
            tracing::warn!(
                "{e}: no candidate manifest (give --candidate); package versions cannot be checked against the pins"
            );
            return Ok(None);
        }
    };
    let found = opened.digest()?;
    if found != deployed.digest {
        bail!(
            "{}: sha256 {found} is not the deployed candidate's {}: not the image that was deployed",
            image.display(),
            deployed.digest
        );
    }
    Ok(Some(lastmile_image::manifest(image)?))
}

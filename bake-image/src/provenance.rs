//! The SLSA v1 provenance of a bake, an in-toto statement written beside the image
//! (`autobuild-<digest>.provenance.json`): the image as its subject; as materials, every pinned
//! distribution with its sha256, the base, the inputs by role (the pinned file, overlays,
//! services) and the source commits; the builder and the parameters that shaped the bytes; the
//! SBOM as a byproduct. Made from the candidate document alone, so it is as deterministic as the
//! image: the same inputs give the same provenance, byte for byte.

use lastmile_documents::candidate::{CandidateDocument, ImageInfo, ImageName};
use lastmile_documents::intoto::{
    BuildDefinition, Builder, PROVENANCE, Provenance, ResourceDescriptor, RunDetails, STATEMENT, Statement,
};
use lastmile_fs::Sha256;
use serde_json::json;

/// What identifies bake-image as a builder, and the kind of build it does.
pub(crate) const BUILDER_ID: &str = "https://example.invalid/lastmile/bake-image";
pub(crate) const BUILD_TYPE: &str = "https://example.invalid/lastmile/bake-image/v1";

/// The statement about `image`, baked as `document` says, with its SBOM.
pub(crate) fn statement(
    document: &CandidateDocument,
    image: &ImageInfo,
    sbom: &Sha256,
) -> Statement<Provenance> {
    let name = ImageName::of(&image.sha256);
    Statement {
        kind: STATEMENT.to_owned(),
        subject: vec![ResourceDescriptor::named(
            name.to_string(),
            "sha256",
            image.sha256.to_string(),
        )],
        predicate_type: PROVENANCE.to_owned(),
        predicate: Provenance {
            build_definition: BuildDefinition {
                build_type: BUILD_TYPE.to_owned(),
                external_parameters: json!({
                    "prefix": document.prefix,
                    "source_date_epoch": document.source_date_epoch,
                    "compression": document.compression,
                    "services": document.services.keys().collect::<Vec<_>>(),
                }),
                internal_parameters: json!({"target": document.target}),
                resolved_dependencies: materials(document),
            },
            run_details: RunDetails {
                builder: Builder {
                    id: BUILDER_ID.to_owned(),
                    version: [("bake-image".to_owned(), document.tool.clone())].into(),
                },
                byproducts: vec![ResourceDescriptor::named(name.sbom(), "sha256", sbom.to_string())],
            },
        },
    }
}

/// Every input of the bake: the distributions, the base, the input files by role, the commits.
fn materials(document: &CandidateDocument) -> Vec<ResourceDescriptor> {
    let mut materials: Vec<ResourceDescriptor> = document
        .packages
        .iter()
        .map(|p| ResourceDescriptor {
            uri: Some(format!("pkg:pypi/{}@{}", p.name, p.version)),
            ..ResourceDescriptor::named(&p.filename, "sha256", p.sha256.to_string())
        })
        .collect();
    let mut base = ResourceDescriptor::named("base-rootfs", "sha256", document.base.digest.to_string());
    base.annotations.insert("os".to_owned(), document.base.os.clone());
    materials.push(base);
    materials.extend(document.inputs.iter().map(|(role, sha256)| {
        ResourceDescriptor::named(format!("input:{role}"), "sha256", sha256.to_string())
    }));
    materials.extend(
        document
            .source_commits
            .iter()
            .map(|(repo, commit)| ResourceDescriptor::named(format!("source:{repo}"), "gitCommit", commit)),
    );
    materials
}

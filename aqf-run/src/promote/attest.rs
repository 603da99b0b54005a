//! What a promotion attests: the SLSA v1 verification summary (an in-toto statement) of the
//! image, naming the suites it passed, the deployment, and the attestations it read (the
//! provenance bake-image wrote beside the image, and the report).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use lastmile_documents::candidate::ImageName;
use lastmile_documents::intoto::{
    ResourceDescriptor, STATEMENT, Statement, VERIFICATION_SUMMARY, VerificationSummary, Verifier,
};
use lastmile_documents::promotion::PromotionEntry;
use lastmile_fs::Sha256;

/// The verification summary of the promotion: `attestations/autobuild-<12>.vsa.json` in the
/// channel's folder.
pub fn write(
    channel_dir: &Path,
    entry: &PromotionEntry,
    statement: &Statement<VerificationSummary>,
) -> anyhow::Result<PathBuf> {
    let name = ImageName::of(&entry.digest);
    let dir = channel_dir.join("attestations");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!(
        "{}.vsa.json",
        name.to_string().trim_end_matches(".tar.gz")
    ));
    lastmile_fs::write_atomic(&path, lastmile_documents::to_string(statement).as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// What is beside the image where its provenance should be.
pub enum Beside {
    /// Its provenance, as an input attestation: the file and its sha256.
    Found(ResourceDescriptor),
    Missing,
    /// Unreadable, or about another image: why.
    Refused(String),
}

/// The provenance bake-image wrote beside the image (a warning when there is none).
pub fn provenance_beside(image: &Path, digest: &Sha256) -> Beside {
    let name = ImageName::of(digest);
    let path = image.with_file_name(name.provenance());
    let shown = path.display();
    let text = match lastmile_fs::read_text(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::warn!("{shown}: no provenance beside the image; the verification summary names none");
            return Beside::Missing;
        }
        Err(e) => return Beside::Refused(format!("{shown}: {e}")),
    };
    let statement: Statement<serde_json::Value> = match serde_json::from_str(&text) {
        Ok(statement) => statement,
        Err(e) => return Beside::Refused(format!("{shown}: not an in-toto statement: {e}")),
    };
    let about = statement.subject.first().and_then(ResourceDescriptor::sha256);
    if about != Some(digest.to_string().as_str()) {
        return Beside::Refused(format!(
            "{shown} is a provenance of another image ({}), not of {name}",
            about.unwrap_or("no digest")
        ));
    }
    Beside::Found(ResourceDescriptor {
        uri: Some(path.display().to_string()),
        ..ResourceDescriptor::named(name.provenance(), "sha256", Sha256::of(&text).to_string())
    })
}

/// A SLSA v1 verification summary: the image passed the suites on the deployments the reports
/// name, as aqf-run verified, having read its provenance and the reports.
pub fn verification(
    qualified: &[super::Qualified],
    entry: &PromotionEntry,
    provenance: Option<ResourceDescriptor>,
) -> Statement<VerificationSummary> {
    let name = ImageName::of(&entry.digest).to_string();
    let mut suites: Vec<(String, String)> = qualified
        .iter()
        .flat_map(|q| {
            q.report
                .suites
                .iter()
                .map(|s| (s.file.clone(), s.sha256.to_string()))
        })
        .collect();
    suites.sort();
    suites.dedup();
    let listed: Vec<String> = suites.iter().map(|(file, sha)| format!("{sha} {file}")).collect();
    let mut policy = ResourceDescriptor::named(
        "acceptance-suites",
        "sha256",
        Sha256::of(listed.join("\n")).to_string(),
    );
    policy.annotations = suites.into_iter().collect();
    let reports = qualified.iter().map(|q| {
        let report = &q.report;
        let mut descriptor = ResourceDescriptor {
            uri: Some(q.path.display().to_string()),
            ..ResourceDescriptor::named("qualification-report", "sha256", q.sha256.to_string())
        };
        let mut annotations: std::collections::BTreeMap<String, String> = [
            ("environment".to_owned(), report.environment.clone()),
            ("generation".to_owned(), report.generation.to_string()),
            ("channel".to_owned(), entry.channel.clone()),
        ]
        .into();
        if let Some(configuration) = &report.configuration {
            annotations.insert("configuration".to_owned(), configuration.digest.to_string());
        }
        descriptor.annotations = annotations;
        descriptor
    });
    let levels = if provenance.is_some() {
        vec!["SLSA_BUILD_LEVEL_1".to_owned()]
    } else {
        Vec::new()
    };
    Statement {
        kind: STATEMENT.to_owned(),
        subject: vec![ResourceDescriptor::named(
            &name,
            "sha256",
            entry.digest.to_string(),
        )],
        predicate_type: VERIFICATION_SUMMARY.to_owned(),
        predicate: VerificationSummary {
            verifier: Verifier {
                id: "https://example.invalid/lastmile/aqf-run".to_owned(),
                version: [("aqf-run".to_owned(), env!("CARGO_PKG_VERSION").to_owned())].into(),
            },
            time_verified: entry.time.clone(),
            resource_uri: name,
            policy,
            input_attestations: provenance.into_iter().chain(reports).collect(),
            verification_result: "PASSED".to_owned(),
            verified_levels: levels,
            slsa_version: "1.0".to_owned(),
        },
    }
}

//! `aqf-run promote`: a qualified candidate becomes a channel's head, by digest, only if its
//! report passed, the report's digest is the deployment's, and the image on disk still hashes to
//! it. Each promotion is appended to the channel's log (digest, report digest, previous head,
//! time) and the channel's pointer file replaced atomically, under a lock, so concurrent
//! promotions are serialized and none is lost; `--expect-current` refuses if the channel moved.
//! An in-toto statement with a SLSA v1 provenance predicate is written for the image.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use lastmile_cli::Negative;
use lastmile_documents::Document;
use lastmile_documents::deployment::DeploymentDocument;
use lastmile_documents::report::ReportDocument;
use lastmile_fs::Sha256;
use serde_json::json;

pub struct Options {
    pub report: PathBuf,
    pub channel: String,
    /// The digest the channel must be at now (`none`: no head yet).
    pub expect_current: Option<String>,
    pub dir: PathBuf,
    pub deployment: Option<PathBuf>,
}

/// Promote; the log entry written, as JSON.
pub fn promote(options: &Options) -> anyhow::Result<serde_json::Value> {
    let channel = &options.channel;
    if channel.is_empty()
        || !channel
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        || channel.starts_with('.')
    {
        bail!("--channel {channel:?}: letters, digits, - _ and . only");
    }
    let shown = options.report.display().to_string();
    let text = lastmile_fs::read_text(&options.report).with_context(|| format!("reading {shown}"))?;
    let report = ReportDocument::from_json(&text, &shown)?;
    let report_sha256 = Sha256::of(&text);
    let digest = report.candidate.digest;
    let refuse = |why: String| -> anyhow::Result<serde_json::Value> {
        Err(Negative(format!("{} not promoted to {channel}: {why}", digest.short(12))).into())
    };
    if !report.passed {
        let failed: Vec<&str> = report
            .tests
            .iter()
            .filter(|t| t.required && !t.outcome.acceptable())
            .map(|t| t.id.as_str())
            .collect();
        return refuse(format!(
            "{shown} did not pass ({} required tests did not: {})",
            failed.len(),
            failed.join(", ")
        ));
    }
    if let Some(partition) = &report.partition {
        return refuse(format!(
            "{shown} is partition {partition} of the suite; promote on a report of the whole suite"
        ));
    }
    if let Some(path) = &options.deployment {
        let shown = path.display().to_string();
        let deployment = DeploymentDocument::from_json(&lastmile_fs::read_text(path)?, &shown)?;
        match &deployment.candidate {
            Some(c) if c.digest == digest => {}
            Some(c) => {
                return refuse(format!(
                    "the report qualified it, but {shown} runs {}",
                    c.digest.short(12)
                ));
            }
            None => return refuse(format!("{shown} runs nothing")),
        }
    }
    let image = Path::new(&report.candidate.image);
    match Sha256::of_file(image) {
        Ok(found) if found == digest => {}
        Ok(found) => {
            return refuse(format!(
                "{} now hashes to {found}: it changed after it was qualified",
                image.display()
            ));
        }
        Err(e) => return refuse(format!("{}: {e}", image.display())),
    }

    std::fs::create_dir_all(&options.dir).with_context(|| format!("creating {}", options.dir.display()))?;
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(options.dir.join(format!("{channel}.lock")))?;
    // Waits for a promotion running at the same moment: serialized, never lost.
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)?;
    let pointer = options.dir.join(channel);
    let current = match std::fs::read_to_string(&pointer) {
        Ok(text) => Some(text.trim().to_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", pointer.display())),
    };
    if let Some(expected) = &options.expect_current {
        let matches = match (&current, expected.as_str()) {
            (None, "none") => true,
            (Some(head), expected) => expected.len() >= 12 && head.starts_with(expected),
            (None, _) => false,
        };
        if !matches {
            return refuse(format!(
                "the channel is at {}, not {expected}: it moved since you looked",
                current.as_deref().unwrap_or("none")
            ));
        }
    }
    let now = jiff::Timestamp::now().to_string();
    let entry = json!({
        "channel": channel,
        "digest": digest.to_string(),
        "report_sha256": report_sha256.to_string(),
        "previous": current,
        "time": now,
        "environment": report.environment,
        "generation": report.generation,
        "image": report.candidate.image,
    });
    let log = options.dir.join(format!("{channel}.log"));
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .with_context(|| format!("opening {}", log.display()))?;
    file.write_all(format!("{entry}\n").as_bytes())?;
    file.sync_all()?;
    lastmile_fs::write_atomic(&pointer, format!("{digest}\n").as_bytes())?;
    let provenance = provenance(&report, &report_sha256, &options.report);
    let name = image.file_name().and_then(|n| n.to_str()).unwrap_or("image");
    let dir = options.dir.join("provenance");
    std::fs::create_dir_all(&dir)?;
    lastmile_fs::write_atomic(
        &dir.join(format!("{name}.intoto.json")),
        lastmile_documents::to_string(&provenance).as_bytes(),
    )?;
    drop(lock);
    Ok(entry)
}

/// An in-toto statement about the image with a SLSA v1 provenance predicate: what it was built
/// from (pinned packages, base, source commits) and the report that qualified it.
pub fn provenance(report: &ReportDocument, report_sha256: &Sha256, report_path: &Path) -> serde_json::Value {
    let name = Path::new(&report.candidate.image)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("image")
        .to_owned();
    let mut dependencies: Vec<serde_json::Value> = report
        .candidate
        .packages
        .iter()
        .map(|p| json!({"uri": format!("pkg:pypi/{}@{}", p.name, p.version), "digest": {"sha256": p.sha256.to_string()}}))
        .collect();
    if let Some(base) = &report.candidate.base {
        dependencies.push(json!({"name": "base-rootfs", "digest": {"sha256": base.to_string()}}));
    }
    for (repo, commit) in &report.candidate.source_commits {
        dependencies.push(json!({"name": repo, "digest": {"gitCommit": commit}}));
    }
    json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": name, "digest": {"sha256": report.candidate.digest.to_string()}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {
            "buildDefinition": {
                "buildType": "https://example.invalid/lastmile/bake-image/v1",
                "externalParameters": {"environment": report.environment, "generation": report.generation},
                "resolvedDependencies": dependencies,
            },
            "runDetails": {
                "builder": {"id": "https://example.invalid/lastmile/bake-image"},
                "metadata": {"startedOn": report.started, "finishedOn": report.finished},
                "byproducts": [{
                    "name": "qualification-report",
                    "uri": report_path.display().to_string(),
                    "digest": {"sha256": report_sha256.to_string()},
                }],
            },
        },
    })
}

//! `aqf-run promote`: a qualified candidate becomes a channel's head, by digest, only if its
//! report passed, the report's digest is the deployment's, and the image on disk still hashes to
//! it. Each promotion is appended to the channel's log (a `lastmile.promotion/v1` entry per line)
//! and the channel's pointer file replaced atomically, under a lock, so concurrent promotions are
//! serialized and none is lost; `--expect-current` refuses if the channel moved. An in-toto
//! statement with a SLSA v1 provenance predicate is written for the image.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use lastmile_cli::Negative;
use lastmile_documents::Document;
use lastmile_documents::deployment::DeploymentDocument;
use lastmile_documents::promotion::PromotionEntry;
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

/// A report read for promotion, with its own sha256.
struct Qualified {
    report: ReportDocument,
    sha256: Sha256,
    shown: String,
}

/// Promote; the log entry written.
pub fn promote(options: &Options) -> anyhow::Result<PromotionEntry> {
    check_channel(&options.channel)?;
    let qualified = read_report(&options.report)?;
    let refuse = |why: String| -> anyhow::Error {
        Negative(format!(
            "{} not promoted to {}: {why}",
            qualified.report.candidate.digest.short(12),
            options.channel
        ))
        .into()
    };
    if let Some(why) = refusal(&qualified, options)? {
        return Err(refuse(why));
    }
    std::fs::create_dir_all(&options.dir).with_context(|| format!("creating {}", options.dir.display()))?;
    let lock = lock_channel(&options.dir, &options.channel)?;
    let current = head(&options.dir.join(&options.channel))?;
    if let Some(expected) = &options.expect_current
        && !expected_matches(current.as_ref(), expected)
    {
        return Err(refuse(format!(
            "the channel is at {}, not {expected}: it moved since you looked",
            current.map_or_else(|| "none".to_owned(), |c| c.to_string())
        )));
    }
    let entry = entry(&qualified.report, &qualified.sha256, &options.channel, current);
    record(&options.dir, &entry)?;
    write_provenance(&options.dir, &qualified, &options.report)?;
    drop(lock);
    Ok(entry)
}

fn check_channel(channel: &str) -> anyhow::Result<()> {
    let valid = !channel.is_empty()
        && !channel.starts_with('.')
        && channel
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if !valid {
        bail!("--channel {channel:?}: letters, digits, - _ and . only");
    }
    Ok(())
}

fn read_report(path: &Path) -> anyhow::Result<Qualified> {
    let shown = path.display().to_string();
    let text = lastmile_fs::read_text(path).with_context(|| format!("reading {shown}"))?;
    let report = ReportDocument::from_json(&text, &shown)?;
    Ok(Qualified {
        report,
        sha256: Sha256::of(&text),
        shown,
    })
}

/// Why the report cannot promote its candidate, if it cannot.
fn refusal(qualified: &Qualified, options: &Options) -> anyhow::Result<Option<String>> {
    let (report, shown) = (&qualified.report, &qualified.shown);
    let digest = report.candidate.digest;
    if !report.passed {
        let failed: Vec<&str> = report
            .tests
            .iter()
            .filter(|t| t.required && !t.outcome.acceptable())
            .map(|t| t.id.as_str())
            .collect();
        return Ok(Some(format!(
            "{shown} did not pass ({} required tests did not: {})",
            failed.len(),
            failed.join(", ")
        )));
    }
    if let Some(partition) = &report.partition {
        return Ok(Some(format!(
            "{shown} is partition {partition} of the suite; promote on a report of the whole suite"
        )));
    }
    if let Some(path) = &options.deployment {
        let shown = path.display().to_string();
        let text = lastmile_fs::read_text(path).with_context(|| format!("reading {shown}"))?;
        let deployment = DeploymentDocument::from_json(&text, &shown)?;
        match &deployment.candidate {
            Some(c) if c.digest == digest => {}
            Some(c) => {
                return Ok(Some(format!(
                    "the report qualified it, but {shown} runs {}",
                    c.digest.short(12)
                )));
            }
            None => return Ok(Some(format!("{shown} runs nothing"))),
        }
    }
    let image = Path::new(&report.candidate.image);
    Ok(match Sha256::of_file(image) {
        Ok(found) if found == digest => None,
        Ok(found) => Some(format!(
            "{} now hashes to {found}: it changed after it was qualified",
            image.display()
        )),
        Err(e) => Some(format!("{}: {e}", image.display())),
    })
}

/// The channel's lock, held until dropped; waits for a promotion running at the same moment:
/// serialized, never lost.
fn lock_channel(dir: &Path, channel: &str) -> anyhow::Result<std::fs::File> {
    let path = dir.join(format!("{channel}.lock"));
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)
        .with_context(|| format!("locking {}", path.display()))?;
    Ok(lock)
}

/// The channel's head, from its pointer file.
fn head(pointer: &Path) -> anyhow::Result<Option<Sha256>> {
    match std::fs::read_to_string(pointer) {
        Ok(text) => {
            Ok(Some(text.trim().parse().with_context(|| {
                format!("{}: not a sha256", pointer.display())
            })?))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", pointer.display())),
    }
}

fn expected_matches(current: Option<&Sha256>, expected: &str) -> bool {
    match (current, expected) {
        (None, "none") => true,
        (Some(head), expected) => expected.len() >= 12 && head.to_string().starts_with(expected),
        (None, _) => false,
    }
}

fn entry(
    report: &ReportDocument,
    report_sha256: &Sha256,
    channel: &str,
    previous: Option<Sha256>,
) -> PromotionEntry {
    PromotionEntry {
        schema: lastmile_documents::promotion::SCHEMA.to_owned(),
        channel: channel.to_owned(),
        digest: report.candidate.digest,
        report_sha256: *report_sha256,
        previous,
        time: jiff::Timestamp::now().to_string(),
        environment: report.environment.clone(),
        generation: report.generation,
        image: report.candidate.image.clone(),
    }
}

/// Append the entry to the channel's log, then move the pointer.
fn record(dir: &Path, entry: &PromotionEntry) -> anyhow::Result<()> {
    let log = dir.join(format!("{}.log", entry.channel));
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .with_context(|| format!("opening {}", log.display()))?;
    let line = serde_json::to_string(entry).expect("an entry serializes");
    file.write_all(format!("{line}\n").as_bytes())?;
    file.sync_all()?;
    lastmile_fs::write_atomic(
        &dir.join(&entry.channel),
        format!("{}\n", entry.digest).as_bytes(),
    )?;
    Ok(())
}

fn write_provenance(dir: &Path, qualified: &Qualified, report_path: &Path) -> anyhow::Result<()> {
    let report = &qualified.report;
    let provenance = provenance(report, &qualified.sha256, report_path);
    let image = Path::new(&report.candidate.image);
    let name = image.file_name().and_then(|n| n.to_str()).unwrap_or("image");
    let dir = dir.join("provenance");
    std::fs::create_dir_all(&dir)?;
    lastmile_fs::write_atomic(
        &dir.join(format!("{name}.intoto.json")),
        lastmile_documents::to_string(&provenance).as_bytes(),
    )?;
    Ok(())
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

//! `aqf-run promote`: a qualified candidate becomes a channel's head, by digest, only if its
//! report passed, the report's digest is the deployment's, and the image on disk still hashes to
//! it. Each promotion is appended to the channel's log (a `lastmile.promotion/v1` entry per line)
//! and the channel's pointer file replaced atomically, under a lock, so concurrent promotions are
//! serialized and none is lost; `--expect-current` refuses if the channel moved. A SLSA v1
//! verification summary (an in-toto statement) records what was verified: the suites that
//! passed, on which deployment, having read the image's provenance (which bake-image wrote
//! beside it) and the report.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use lastmile_cli::Negative;
use lastmile_documents::Document;
use lastmile_documents::candidate::ImageName;
use lastmile_documents::deployment::DeploymentDocument;
use lastmile_documents::intoto::{
    ResourceDescriptor, STATEMENT, Statement, VERIFICATION_SUMMARY, VerificationSummary, Verifier,
};
use lastmile_documents::promotion::PromotionEntry;
use lastmile_documents::report::ReportDocument;
use lastmile_fs::Sha256;

pub struct Options {
    pub report: PathBuf,
    pub channel: String,
    /// The digest the channel must be at now (`none`: no head yet).
    pub expect_current: Option<String>,
    pub dir: PathBuf,
    pub deployment: Option<PathBuf>,
}

/// A report read for promotion, with its own sha256.
pub struct Qualified {
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
    let digest = qualified.report.candidate.digest;
    let provenance = match provenance_beside(Path::new(&qualified.report.candidate.image), &digest) {
        Beside::Found(descriptor) => Some(descriptor),
        Beside::Missing => None,
        Beside::Refused(why) => return Err(refuse(why)),
    };
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
    let statement = verification(&qualified, &options.report, &entry, provenance);
    write_verification(&options.dir, &entry, &statement)?;
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

/// The verification summary of the promotion, under `attestations/`.
fn write_verification(
    dir: &Path,
    entry: &PromotionEntry,
    statement: &Statement<VerificationSummary>,
) -> anyhow::Result<()> {
    let name = ImageName::of(&entry.digest);
    let dir = dir.join("attestations");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!(
        "{}.{}.vsa.json",
        name.to_string().trim_end_matches(".tar.gz"),
        entry.channel
    ));
    lastmile_fs::write_atomic(&path, lastmile_documents::to_string(statement).as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

/// What is beside the image where its provenance should be.
enum Beside {
    /// Its provenance, as an input attestation: the file and its sha256.
    Found(ResourceDescriptor),
    Missing,
    /// Unreadable, or about another image: why.
    Refused(String),
}

/// The provenance bake-image wrote beside the image (a warning when there is none).
fn provenance_beside(image: &Path, digest: &Sha256) -> Beside {
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

/// A SLSA v1 verification summary: the image passed the suites on the deployment the report
/// names, as aqf-run verified, having read its provenance and the report.
pub fn verification(
    qualified: &Qualified,
    report_path: &Path,
    entry: &PromotionEntry,
    provenance: Option<ResourceDescriptor>,
) -> Statement<VerificationSummary> {
    let report = &qualified.report;
    let name = ImageName::of(&entry.digest).to_string();
    let suites: Vec<String> = report
        .suites
        .iter()
        .map(|s| format!("{} {}", s.sha256, s.file))
        .collect();
    let mut policy = ResourceDescriptor::named(
        "acceptance-suites",
        "sha256",
        Sha256::of(suites.join("\n")).to_string(),
    );
    policy.annotations = report
        .suites
        .iter()
        .map(|s| (s.file.clone(), s.sha256.to_string()))
        .collect();
    let mut report_descriptor = ResourceDescriptor {
        uri: Some(report_path.display().to_string()),
        ..ResourceDescriptor::named("qualification-report", "sha256", qualified.sha256.to_string())
    };
    report_descriptor.annotations = [
        ("environment".to_owned(), report.environment.clone()),
        ("generation".to_owned(), report.generation.to_string()),
        ("channel".to_owned(), entry.channel.clone()),
    ]
    .into();
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
            input_attestations: provenance.into_iter().chain([report_descriptor]).collect(),
            verification_result: "PASSED".to_owned(),
            verified_levels: levels,
            slsa_version: "1.0".to_owned(),
        },
    }
}

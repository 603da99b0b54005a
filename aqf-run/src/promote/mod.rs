//! `aqf-run promote`: a qualified candidate becomes a channel's head, by digest, only through the
//! gate ([`gate`]): the report is of the whole suite, every test ran and every required one
//! passed; the deployment given is the report's (digest, environment, generation) and every node
//! says, now, that it runs it ([`live`]); the image, a regular file, still hashes to the digest.
//! Then, under the channel's lock ([`channel`]): the verification summary is written
//! ([`attest`]), the entry appended to the channel's log (the promotion), and the channel's
//! `head` moved. `--expect-current` refuses if the channel moved since the caller looked.

pub mod attest;
pub mod channel;
pub mod gate;
pub mod live;

use std::path::{Path, PathBuf};

use anyhow::Context;
use lastmile_cli::Negative;
use lastmile_documents::Document;
use lastmile_documents::deployment::DeploymentDocument;
use lastmile_documents::promotion::PromotionEntry;
use lastmile_documents::report::ReportDocument;
use lastmile_fs::Sha256;

use self::attest::Beside;
use self::channel::Channel;

pub struct Options {
    pub report: PathBuf,
    pub channel: String,
    /// The digest the channel must be at now (`none`: no head yet).
    pub expect_current: Option<String>,
    pub dir: PathBuf,
    /// The deployment the report must be about; required (its absence is a refusal).
    pub deployment: Option<PathBuf>,
}

/// A report read for promotion, with its own sha256.
pub struct Qualified {
    report: ReportDocument,
    sha256: Sha256,
}

/// Promote; the log entry written.
pub fn promote(options: &Options) -> anyhow::Result<PromotionEntry> {
    let channel = Channel::new(&options.dir, &options.channel)?;
    let qualified = read_report(&options.report)?;
    let digest = qualified.report.candidate.digest;
    let refuse = |why: String| -> anyhow::Error {
        Negative(format!(
            "{} not promoted to {}: {why}",
            digest.short(12),
            channel.name
        ))
        .into()
    };
    if let Some(why) = refusal(&qualified.report, options)? {
        return Err(refuse(why));
    }
    let provenance = match attest::provenance_beside(Path::new(&qualified.report.candidate.image), &digest) {
        Beside::Found(descriptor) => Some(descriptor),
        Beside::Missing => None,
        Beside::Refused(why) => return Err(refuse(why)),
    };
    let locked = channel.lock()?;
    let current = channel.head()?;
    if let Some(expected) = &options.expect_current
        && !expected_matches(current.as_ref(), expected)
    {
        return Err(refuse(format!(
            "the channel is at {}, not {expected}: it moved since you looked",
            current.map_or_else(|| "none".to_owned(), |c| c.to_string())
        )));
    }
    if current == Some(digest) {
        let entries = channel.entries()?;
        tracing::info!("{} is already the head of {}", digest.short(12), channel.name);
        return Ok(entries
            .last()
            .cloned()
            .expect("a channel with a head has an entry"));
    }
    lastmile_process::fault::point("verified");
    let entry = entry(&qualified, &channel.name, current);
    let statement = attest::verification(&qualified, &options.report, &entry, provenance);
    attest::write(&channel.dir, &entry, &statement)?;
    lastmile_process::fault::point("attested");
    locked.append(&entry)?;
    Ok(entry)
}

fn read_report(path: &Path) -> anyhow::Result<Qualified> {
    let shown = path.display().to_string();
    let text = lastmile_fs::read_text(path).with_context(|| format!("reading {shown}"))?;
    let report = ReportDocument::from_json(&text, &shown)?;
    Ok(Qualified {
        report,
        sha256: Sha256::of(&text),
    })
}

/// Why the report cannot promote its candidate, if it cannot: the report itself, the deployment,
/// the nodes now, the image now.
fn refusal(report: &ReportDocument, options: &Options) -> anyhow::Result<Option<String>> {
    let shown = options.report.display();
    if let Some(why) = gate::report_refusal(report) {
        return Ok(Some(format!("{shown}: {why}")));
    }
    let Some(path) = &options.deployment else {
        return Ok(Some(
            "no --deployment: a candidate is promoted only with the deployment it was qualified on, which must still run it"
                .to_owned(),
        ));
    };
    let deployment_shown = path.display().to_string();
    let text = lastmile_fs::read_text(path).with_context(|| format!("reading {deployment_shown}"))?;
    let deployment = DeploymentDocument::from_json(&text, &deployment_shown)?;
    if let Some(why) = gate::deployment_refusal(report, &deployment, &deployment_shown) {
        return Ok(Some(why));
    }
    if let Some(why) = live::refusal(&deployment, &report.candidate.digest, report.generation) {
        return Ok(Some(why));
    }
    Ok(image_refusal(
        Path::new(&report.candidate.image),
        &report.candidate.digest,
    ))
}

/// The image must still be the one qualified: a regular file whose bytes hash to the digest.
fn image_refusal(image: &Path, digest: &Sha256) -> Option<String> {
    match lastmile_image::ImageFile::open(image).and_then(lastmile_image::ImageFile::digest) {
        Ok(found) if &found == digest => None,
        Ok(found) => Some(format!(
            "{} now hashes to {found}: it changed after it was qualified",
            image.display()
        )),
        Err(e) => Some(e.to_string()),
    }
}

fn expected_matches(current: Option<&Sha256>, expected: &str) -> bool {
    match (current, expected) {
        (None, "none") => true,
        (Some(head), expected) => expected.len() >= 12 && head.to_string().starts_with(expected),
        (None, _) => false,
    }
}

fn entry(qualified: &Qualified, channel: &str, previous: Option<Sha256>) -> PromotionEntry {
    let report = &qualified.report;
    PromotionEntry {
        schema: lastmile_documents::promotion::SCHEMA.to_owned(),
        channel: channel.to_owned(),
        digest: report.candidate.digest,
        report_sha256: qualified.sha256,
        previous,
        time: jiff::Timestamp::now().to_string(),
        environment: report.environment.clone(),
        generation: report.generation,
        image: report.candidate.image.clone(),
    }
}

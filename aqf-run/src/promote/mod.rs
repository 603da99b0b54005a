//! `aqf-run promote`: a qualified candidate *and the configuration it was qualified with* become
//! a channel's head, only through the gate ([`gate`]). Each report (one per environment the
//! candidate was qualified on: a lab and a staging layout, say) is of the whole suite, every test
//! ran and every required one passed; each is backed by the deployment of its environment, which
//! runs that candidate in that configuration and whose every node says so now ([`live`]); every
//! report is about the same image, which still hashes to the digest. Then, under the channel's
//! lock ([`channel`]): the reports are kept in the channel (content-addressed), the verification
//! summary is written ([`attest`]), the entry appended to the channel's log (the promotion,
//! saying whether the candidate, a configuration or both moved), and `head` moved.
//! `--expect-current` refuses if the channel moved since the caller looked.

pub mod attest;
pub mod channel;
pub mod gate;
pub mod live;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use lastmile_cli::Negative;
use lastmile_documents::Document;
use lastmile_documents::changes::Changes;
use lastmile_documents::deployment::DeploymentDocument;
use lastmile_documents::promotion::{Moved, PromotionEntry, Qualification};
use lastmile_documents::report::ReportDocument;
use lastmile_fs::Sha256;

use self::attest::Beside;
use self::channel::Channel;

pub struct Options {
    /// One report per environment the candidate was qualified on.
    pub reports: Vec<PathBuf>,
    pub channel: String,
    /// The digest the channel must be at now (`none`: no head yet).
    pub expect_current: Option<String>,
    pub dir: PathBuf,
    /// The deployments the reports were qualified on, one each; required (their absence is a
    /// refusal).
    pub deployments: Vec<PathBuf>,
}

/// A report read for promotion, with where it was and its own sha256.
pub struct Qualified {
    pub report: ReportDocument,
    pub path: PathBuf,
    pub sha256: Sha256,
    pub text: String,
}

/// What a promotion did: the entry (the log's last, if nothing moved) and what changed since the
/// head before (when the channel keeps the head's report).
pub struct Promoted {
    pub entry: PromotionEntry,
    /// `false` when the candidate and every configuration already were the head's.
    pub moved: bool,
    pub changes: Option<Changes>,
}

/// Promote; the log entry written.
pub fn promote(options: &Options) -> anyhow::Result<Promoted> {
    let channel = Channel::new(&options.dir, &options.channel)?;
    let mut qualified = options
        .reports
        .iter()
        .map(|p| read_report(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    qualified.sort_by(|a, b| a.report.environment.cmp(&b.report.environment));
    let first = &qualified[0].report;
    let digest = first.candidate.digest;
    let refuse = |why: String| -> anyhow::Error {
        Negative(format!(
            "{} not promoted to {}: {why}",
            digest.short(12),
            channel.name
        ))
        .into()
    };
    if let Some(why) = refusal(&qualified, options)? {
        return Err(refuse(why));
    }
    let provenance = match attest::provenance_beside(Path::new(&first.candidate.image), &digest) {
        Beside::Found(descriptor) => Some(descriptor),
        Beside::Missing => None,
        Beside::Refused(why) => return Err(refuse(why)),
    };
    let locked = channel.lock()?;
    let entries = channel.entries()?;
    let head = entries.last();
    let current = head.map(|e| e.digest);
    if let Some(expected) = &options.expect_current
        && !expected_matches(current.as_ref(), expected)
    {
        return Err(refuse(format!(
            "the channel is at {}, not {expected}: it moved since you looked",
            current.map_or_else(|| "none".to_owned(), |c| c.to_string())
        )));
    }
    let changes = head.and_then(|h| since_head(&channel, h, &qualified[0].report));
    let entry = entry(&qualified, &channel.name, head);
    if entry.moved.is_empty() {
        tracing::info!(
            "{} with the same configuration is already the head of {}",
            digest.short(12),
            channel.name
        );
        return Ok(Promoted {
            entry: head.cloned().expect("nothing moved, so there is a head"),
            moved: false,
            changes,
        });
    }
    lastmile_process::fault::point("verified");
    for q in &qualified {
        channel.keep_report(&q.sha256, &q.text)?;
    }
    let statement = attest::verification(&qualified, &entry, provenance);
    attest::write(&channel.dir, &entry, &statement)?;
    lastmile_process::fault::point("attested");
    locked.append(&entry)?;
    Ok(Promoted {
        entry,
        moved: true,
        changes,
    })
}

fn read_report(path: &Path) -> anyhow::Result<Qualified> {
    let shown = path.display().to_string();
    let text = lastmile_fs::read_text(path).with_context(|| format!("reading {shown}"))?;
    let report = ReportDocument::from_json(&text, &shown)?;
    Ok(Qualified {
        report,
        path: path.to_path_buf(),
        sha256: Sha256::of(&text),
        text,
    })
}

/// Why the reports cannot promote their candidate, if they cannot: each report itself, that they
/// are of one image on distinct environments, each one's deployment and its nodes now, the image
/// now.
fn refusal(qualified: &[Qualified], options: &Options) -> anyhow::Result<Option<String>> {
    let first = &qualified[0].report;
    for q in qualified {
        let shown = q.path.display();
        if let Some(why) = gate::report_refusal(&q.report) {
            return Ok(Some(format!("{shown}: {why}")));
        }
        if q.report.candidate.digest != first.candidate.digest
            || q.report.candidate.image != first.candidate.image
        {
            return Ok(Some(format!(
                "{shown} qualified {} ({}), {} {} ({}): one promotion is of one candidate",
                q.report.candidate.digest.short(12),
                q.report.candidate.image,
                qualified[0].path.display(),
                first.candidate.digest.short(12),
                first.candidate.image
            )));
        }
    }
    if let Some(pair) = qualified
        .windows(2)
        .find(|w| w[0].report.environment == w[1].report.environment)
    {
        return Ok(Some(format!(
            "{} and {} are both about environment {}: give one report per environment",
            pair[0].path.display(),
            pair[1].path.display(),
            pair[0].report.environment
        )));
    }
    if options.deployments.is_empty() {
        return Ok(Some(
            "no --deployment: a candidate is promoted only with the deployment it was qualified on, which must still run it"
                .to_owned(),
        ));
    }
    let mut deployments = BTreeMap::new();
    for path in &options.deployments {
        let shown = path.display().to_string();
        let text = lastmile_fs::read_text(path).with_context(|| format!("reading {shown}"))?;
        let deployment = DeploymentDocument::from_json(&text, &shown)?;
        if let Some((other, _)) =
            deployments.insert(deployment.environment.clone(), (shown.clone(), deployment))
        {
            return Ok(Some(format!(
                "{other} and {shown} are both deployments of one environment: give one per report"
            )));
        }
    }
    for q in qualified {
        let Some((shown, deployment)) = deployments.remove(&q.report.environment) else {
            return Ok(Some(format!(
                "{} is about environment {}, and no --deployment is",
                q.path.display(),
                q.report.environment
            )));
        };
        if let Some(why) = gate::deployment_refusal(&q.report, &deployment, &shown) {
            return Ok(Some(why));
        }
        if let Some(why) = live::refusal(&deployment, &q.report.candidate.digest, q.report.generation) {
            return Ok(Some(why));
        }
    }
    if let Some((_, (shown, deployment))) = deployments.into_iter().next() {
        return Ok(Some(format!(
            "{shown} is a deployment of {}, on which no report given qualified the candidate",
            deployment.environment
        )));
    }
    Ok(image_refusal(
        Path::new(&first.candidate.image),
        &first.candidate.digest,
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

/// What changed since `head` for `new`: against the head's report of the same environment the
/// channel keeps (else another of its reports, the configuration then not compared), if it keeps
/// one. Both `promote` and `run --compare` say it.
pub fn since_head(channel: &Channel, head: &PromotionEntry, new: &ReportDocument) -> Option<Changes> {
    let kept = head
        .qualified
        .iter()
        .find(|q| q.environment == new.environment)
        .or(head.qualified.first())?;
    let Some(head_report) = channel.kept_report(&kept.report_sha256) else {
        tracing::warn!(
            "{}: the channel keeps no report of its head {} (promoted before reports were kept); not compared",
            channel.name,
            head.digest.short(12)
        );
        return None;
    };
    let mut changes = Changes::between(&channel.name, &head_report, new);
    if kept.environment != new.environment {
        changes.configuration = None;
    }
    Some(changes)
}

/// The entry: the pair qualified, and what of it moved since `head` (empty: nothing did).
fn entry(qualified: &[Qualified], channel: &str, head: Option<&PromotionEntry>) -> PromotionEntry {
    let first = &qualified[0].report;
    let qualifications: Vec<Qualification> = qualified
        .iter()
        .map(|q| Qualification {
            environment: q.report.environment.clone(),
            instance: q.report.instance.clone(),
            generation: q.report.generation,
            configuration: q.report.configuration.as_ref().map(|c| c.digest),
            report_sha256: q.sha256,
        })
        .collect();
    let mut moved = Vec::new();
    if head.map(|h| h.digest) != Some(first.candidate.digest) {
        moved.push(Moved::Candidate);
    }
    let configurations: BTreeMap<&str, Option<Sha256>> = qualifications
        .iter()
        .map(|q| (q.environment.as_str(), q.configuration))
        .collect();
    if head.is_some_and(|h| h.configurations() != configurations) {
        moved.push(Moved::Configuration);
    }
    PromotionEntry {
        schema: lastmile_documents::promotion::SCHEMA.to_owned(),
        channel: channel.to_owned(),
        digest: first.candidate.digest,
        previous: head.map(|h| h.digest),
        moved,
        time: jiff::Timestamp::now().to_string(),
        image: first.candidate.image.clone(),
        qualified: qualifications,
    }
}

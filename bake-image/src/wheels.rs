//! The pinned wheels: found in the wheel sources, checked against the pinned hashes and the
//! base's tags, one per pin.

use std::path::PathBuf;

use anyhow::bail;
use lastmile_cli::Reporter;
use lastmile_fs::Sha256;
use lastmile_index::{DistFile, FileKind, Finder, SourceOptions, Sources};
use lastmile_python::filename::WheelName;
use lastmile_python::{TagRanks, Target, Version};

use crate::pins::Pin;

/// A pin and the wheel chosen for it, as a local file with its sha256.
#[derive(Debug, Clone)]
pub(crate) struct Chosen {
    pub(crate) pin: Pin,
    pub(crate) file: DistFile,
    pub(crate) path: PathBuf,
    pub(crate) sha256: Sha256,
}

/// Find, fetch and check the wheel of every pin.
pub(crate) fn fetch(
    options: &SourceOptions,
    pins: &[Pin],
    target: &Target,
    reporter: &Reporter,
) -> anyhow::Result<Vec<Chosen>> {
    let finder = Finder::new(sources(options)?, target)?;
    finder.prefetch(pins.iter().map(|p| p.name.clone()));
    let ranks = target.tag_ranks();
    let progress = reporter.items("fetching wheels", pins.len() as u64);
    let mut chosen = Vec::new();
    for pin in pins {
        lastmile_process::interrupt::check()?;
        progress.set_message(pin.name.to_string());
        let file = choose(&finder, pin, target, &ranks)?;
        let path = finder
            .local_path(&file)
            .map_err(|e| anyhow::anyhow!("{}: {e}", pin.origin))?;
        let sha256 = Sha256::of_file(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        if !pin.sha256.contains(&sha256) {
            let pinned: Vec<String> = pin.sha256.iter().map(ToString::to_string).collect();
            bail!(
                "{}: {}: sha256 {sha256} is not one of the pinned hashes ({}); the file differs from the one that was pinned",
                pin.origin,
                file.shown(),
                pinned.join(", ")
            );
        }
        chosen.push(Chosen {
            pin: pin.clone(),
            file,
            path,
            sha256,
        });
        progress.inc(1);
    }
    progress.finish_and_clear();
    Ok(chosen)
}

/// The wheel sources: the options' (a pinned file's own `--index-url` lines are not followed: the
/// bake uses the sources it is given).
fn sources(options: &SourceOptions) -> anyhow::Result<Sources> {
    match options.sources(None, true) {
        Err(lastmile_index::IndexError::NoSource { .. }) => {
            bail!(
                "no wheel source: give --find-links DIR (scripts/build-wheels makes one) or --index-url URL"
            )
        }
        // A pin no wheel fits is explained with the wheels there are: every file is kept.
        sources => Ok(sources?),
    }
}

/// The wheel to install for a pin: a file of that version whose hash is pinned and whose tags
/// the base supports, the best-ranked one.
fn choose(finder: &Finder, pin: &Pin, target: &Target, ranks: &TagRanks) -> anyhow::Result<DistFile> {
    let version: Version = pin
        .version
        .parse()
        .map_err(|e| anyhow::anyhow!("{}: version {}: {e}", pin.origin, pin.version))?;
    let files = finder.files(&pin.name, &version);
    if files.is_empty() {
        let _ = finder
            .project(&pin.name)
            .map_err(|e| anyhow::anyhow!("{}: {e}", pin.origin))?;
        bail!(
            "{}: no file of {}=={} in the wheel sources",
            pin.origin,
            pin.name,
            pin.version
        );
    }
    let hashed = |f: &DistFile| f.sha256.as_ref().is_none_or(|h| pin.sha256.contains(h));
    let mut wheels: Vec<(usize, &DistFile)> = files
        .iter()
        .filter(|f| hashed(f))
        .filter_map(|f| match &f.kind {
            FileKind::Wheel { .. } => {
                let parsed: WheelName = f.filename.parse().ok()?;
                ranks.rank(&parsed).map(|rank| (rank, f))
            }
            FileKind::Sdist => None,
        })
        .collect();
    wheels.sort_by_key(|(rank, f)| (*rank, f.filename.clone()));
    if let Some((_, best)) = wheels.first() {
        return Ok((*best).clone());
    }
    let incompatible: Vec<&str> = files
        .iter()
        .filter(|f| matches!(f.kind, FileKind::Wheel { .. }))
        .map(|f| f.filename.as_str())
        .collect();
    if !incompatible.is_empty() {
        let tags: Vec<String> = target
            .supported_tags()
            .iter()
            .take(6)
            .map(|(p, a, l)| format!("{p}-{a}-{l}"))
            .collect();
        bail!(
            "{}: {}=={}: no wheel fits the base (Python {}.{}, {}): {} (the base supports {}, ...)",
            pin.origin,
            pin.name,
            pin.version,
            target.python.0,
            target.python.1,
            target.platform_option(),
            incompatible.join(", "),
            tags.join(", ")
        );
    }
    if let Some(sdist) = files.iter().find(|f| f.kind == FileKind::Sdist) {
        bail!(
            "{}: {}=={} is only an sdist ({}); build it into a wheel first (scripts/build-wheels, or `pip wheel --no-deps {}`) and give the wheel's folder with --find-links",
            pin.origin,
            pin.name,
            pin.version,
            sdist.filename,
            sdist.shown()
        );
    }
    bail!(
        "{}: {}=={}: no file matches the pinned hashes",
        pin.origin,
        pin.name,
        pin.version
    )
}

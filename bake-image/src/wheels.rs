//! The pinned wheels: found in the wheel sources, checked against the pinned hashes and the
//! base's tags, one per pin.

use std::path::PathBuf;

use anyhow::bail;
use lastmile_cli::Reporter;
use lastmile_documents::candidate::BuiltFrom;
use lastmile_fs::Sha256;
use lastmile_index::{DistFile, FileKind, Finder, SourceOptions, Sources};
use lastmile_python::filename::WheelName;
use lastmile_python::{TagRanks, Target, Version};

use crate::build::Builder;
use crate::digests::Remembered;
use crate::pins::Pin;

/// A pin and the wheel chosen for it (or built from its sdist), as a local file with its sha256.
#[derive(Debug, Clone)]
pub(crate) struct Chosen {
    pub(crate) pin: Pin,
    pub(crate) filename: String,
    pub(crate) path: PathBuf,
    pub(crate) sha256: Sha256,
    pub(crate) built_from: Option<BuiltFrom>,
}

/// What a pin's file is: its wheel, or an sdist to build one from.
enum Want {
    Wheel(DistFile),
    Build(DistFile),
}

/// Find, fetch and check the wheel of every pin; with a `builder`, a pin that has only an sdist
/// gets a wheel built from it.
pub(crate) fn fetch(
    options: &SourceOptions,
    pins: &[Pin],
    target: &Target,
    builder: Option<&Builder>,
    digests: &mut Remembered,
    reporter: &Reporter,
) -> anyhow::Result<Vec<Chosen>> {
    let finder = Finder::new(sources(options)?, target)?;
    finder.prefetch(pins.iter().map(|p| p.name.clone()));
    let wants = choose_all(&finder, pins, target, builder.is_some())?;
    let progress = reporter.items("fetching wheels", pins.len() as u64);
    let mut chosen = Vec::new();
    for (pin, want) in pins.iter().zip(wants) {
        lastmile_process::interrupt::check()?;
        let (Want::Wheel(file) | Want::Build(file)) = &want;
        let path = finder
            .local_path(file)
            .map_err(|e| anyhow::anyhow!("{}: {e}", pin.origin))?;
        let sha256 = checked(pin, file, &path, digests)?;
        chosen.push(match (&want, builder) {
            (Want::Build(_), Some(builder)) => {
                progress.set_message(format!("building {} from {}", pin.name, file.filename));
                let what = format!("{}: {}=={}", pin.origin, pin.name, pin.version);
                let built = builder.wheel(&what, &path, &file.filename, &sha256)?;
                Chosen {
                    pin: pin.clone(),
                    filename: built.filename,
                    path: built.path,
                    sha256: built.sha256,
                    built_from: Some(built.from),
                }
            }
            _ => {
                progress.set_message(pin.name.to_string());
                Chosen {
                    pin: pin.clone(),
                    filename: file.filename.clone(),
                    path,
                    sha256,
                    built_from: None,
                }
            }
        });
        progress.inc(1);
    }
    progress.finish_and_clear();
    Ok(chosen)
}

/// The file of every pin; every pin without one is named at once.
fn choose_all(finder: &Finder, pins: &[Pin], target: &Target, build: bool) -> anyhow::Result<Vec<Want>> {
    let ranks = target.tag_ranks();
    let mut wants = Vec::new();
    let mut refused = Vec::new();
    let mut sdists = Vec::new();
    for pin in pins {
        lastmile_process::interrupt::check()?;
        match choose(finder, pin, target, &ranks) {
            Ok(file) => wants.push(Want::Wheel(file)),
            Err(NoWheel::SdistOnly(_, sdist)) if build => wants.push(Want::Build(*sdist)),
            Err(NoWheel::SdistOnly(message, sdist)) => {
                refused.push(message);
                sdists.push(sdist.shown());
            }
            Err(NoWheel::Other(error)) => refused.push(format!("{error:#}")),
        }
    }
    if refused.is_empty() {
        return Ok(wants);
    }
    let mut message = format!(
        "{} of {} pins have no wheel to install:\n  - {}",
        refused.len(),
        pins.len(),
        refused.join("\n  - ")
    );
    if !sdists.is_empty() {
        message.push_str(&format!(
            "\nbuild the sdists into wheels in the base plus a compiler with --build-root $(scripts/build-root), or build them yourself for the base's Python and C library (in the base, or on a machine like it) and give their folder with --find-links:\n  pip wheel --no-deps --no-build-isolation -w WHEELS {}",
            sdists.join(" ")
        ));
    }
    bail!(message)
}

/// The sha256 of a pin's local file (remembered from an earlier bake if the file is unchanged
/// since), which must be one of the pinned hashes.
fn checked(
    pin: &Pin,
    file: &DistFile,
    path: &std::path::Path,
    digests: &mut Remembered,
) -> anyhow::Result<Sha256> {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let sha256 = std::fs::metadata(path)
        .and_then(|meta| digests.digest(&absolute, path, &meta))
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    if !pin.sha256.contains(&sha256) {
        let pinned: Vec<String> = pin.sha256.iter().map(ToString::to_string).collect();
        bail!(
            "{}: {}: sha256 {sha256} is not one of the pinned hashes ({}); the file differs from the one that was pinned",
            pin.origin,
            file.shown(),
            pinned.join(", ")
        );
    }
    Ok(sha256)
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

/// Why a pin has no wheel to install.
enum NoWheel {
    /// Only an sdist: the message, and the sdist to build.
    SdistOnly(String, Box<DistFile>),
    Other(anyhow::Error),
}

impl From<anyhow::Error> for NoWheel {
    fn from(error: anyhow::Error) -> Self {
        NoWheel::Other(error)
    }
}

/// The wheel to install for a pin: a file of that version whose hash is pinned and whose tags
/// the base supports, the best-ranked one.
fn choose(finder: &Finder, pin: &Pin, target: &Target, ranks: &TagRanks) -> Result<DistFile, NoWheel> {
    let version: Version = pin
        .version
        .parse()
        .map_err(|e| anyhow::anyhow!("{}: version {}: {e}", pin.origin, pin.version))?;
    let files = finder.files(&pin.name, &version);
    if files.is_empty() {
        let _ = finder
            .project(&pin.name)
            .map_err(|e| anyhow::anyhow!("{}: {e}", pin.origin))?;
        return Err(anyhow::anyhow!(
            "{}: no file of {}=={} in the wheel sources",
            pin.origin,
            pin.name,
            pin.version
        )
        .into());
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
    Err(why_no_wheel(pin, target, &files))
}

/// Why none of a version's files is a wheel the base can install.
fn why_no_wheel(pin: &Pin, target: &Target, files: &[DistFile]) -> NoWheel {
    let incompatible: Vec<&str> = files
        .iter()
        .filter(|f| matches!(f.kind, FileKind::Wheel { .. }))
        .map(|f| f.filename.as_str())
        .collect();
    let sdist = files.iter().find(|f| f.kind == FileKind::Sdist);
    if !incompatible.is_empty() && sdist.is_none() {
        let tags: Vec<String> = target
            .supported_tags()
            .iter()
            .take(6)
            .map(|(p, a, l)| format!("{p}-{a}-{l}"))
            .collect();
        let shown = if incompatible.len() > 4 {
            format!(
                "{} and {} more",
                incompatible[..4].join(", "),
                incompatible.len() - 4
            )
        } else {
            incompatible.join(", ")
        };
        return NoWheel::Other(anyhow::anyhow!(
            "{}: {}=={}: no wheel fits the base (Python {}.{}, {}): {shown} (the base supports {}, ...)",
            pin.origin,
            pin.name,
            pin.version,
            target.python.0,
            target.python.1,
            target.platform_option(),
            tags.join(", ")
        ));
    }
    if let Some(sdist) = sdist {
        let others = if incompatible.is_empty() {
            String::new()
        } else {
            format!(", and {} wheels for other platforms", incompatible.len())
        };
        return NoWheel::SdistOnly(
            format!(
                "{}: {}=={} has only an sdist for the base ({}{others})",
                pin.origin, pin.name, pin.version, sdist.filename
            ),
            Box::new(sdist.clone()),
        );
    }
    NoWheel::Other(anyhow::anyhow!(
        "{}: {}=={}: no file matches the pinned hashes",
        pin.origin,
        pin.name,
        pin.version
    ))
}

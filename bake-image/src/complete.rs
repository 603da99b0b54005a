//! The pins must be a whole system: every wheel is the package and version its pin names, and
//! every dependency of every pinned package (its markers evaluated for the base, the extras
//! installed with it included) is pinned, at a version the dependency allows. Otherwise the
//! image would install, then fail when a service imports what is missing.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::bail;
use lastmile_python::requirement::parse_requirement;
use lastmile_python::{ExtraName, PackageName, Target, Version, VersionOrUrl};

use crate::wheels::Chosen;

type Pinned<'a> = BTreeMap<&'a PackageName, (Version, &'a Chosen)>;

/// Check the chosen wheels against each other; the first problems are named (at most ten).
pub(crate) fn check(chosen: &[Chosen], target: &Target) -> anyhow::Result<()> {
    let env = target.marker_environment();
    let mut pinned: Pinned = BTreeMap::new();
    let mut metadata = BTreeMap::new();
    for wheel in chosen {
        let (version, meta) = read_checked(wheel)?;
        pinned.insert(&wheel.pin.name, (version, wheel));
        metadata.insert(&wheel.pin.name, meta);
    }
    // Extras asked for, of each package: those on the pins, then those the requirements of
    // pinned packages ask for, until nothing new is asked.
    let mut extras: BTreeMap<PackageName, BTreeSet<ExtraName>> = chosen
        .iter()
        .map(|c| (c.pin.name.clone(), c.pin.extras.iter().cloned().collect()))
        .collect();
    let mut checked: BTreeSet<(PackageName, Option<ExtraName>)> = BTreeSet::new();
    let mut problems = Vec::new();
    loop {
        let mut asked: Vec<(PackageName, ExtraName)> = Vec::new();
        for (name, meta) in &metadata {
            let mut active: Vec<Option<ExtraName>> = vec![None];
            active.extend(extras.get(*name).into_iter().flatten().cloned().map(Some));
            for extra in active {
                if checked.insert(((*name).clone(), extra.clone())) {
                    let need = Need {
                        name,
                        extra: extra.as_ref(),
                        meta,
                    };
                    need.check(&pinned, &env, &mut problems, &mut asked)?;
                }
            }
        }
        let mut grew = false;
        for (name, extra) in asked {
            grew |= extras.entry(name).or_default().insert(extra);
        }
        if !grew {
            break;
        }
    }
    report(problems, target)
}

/// A wheel's version, after its metadata is checked to be the package and version its pin says.
fn read_checked(wheel: &Chosen) -> anyhow::Result<(Version, lastmile_dist::DistMetadata)> {
    let meta = lastmile_dist::read_wheel(&wheel.path)?;
    let version: Version = wheel.pin.version.parse()?;
    let name_ok = meta.metadata.name.parse::<PackageName>().ok().as_ref() == Some(&wheel.pin.name);
    let version_ok = meta
        .metadata
        .version
        .as_deref()
        .and_then(|v| v.parse::<Version>().ok())
        == Some(version.clone());
    if !name_ok || !version_ok {
        bail!(
            "{}: {}: its metadata says it is {} {}, not {}=={}; refusing a wheel that is not what its name says",
            wheel.pin.origin,
            wheel.filename,
            meta.metadata.name,
            meta.metadata.version.as_deref().unwrap_or("(no version)"),
            wheel.pin.name,
            wheel.pin.version
        );
    }
    Ok((version, meta))
}

/// What one pinned package needs, with one of its extras (or none).
struct Need<'a> {
    name: &'a PackageName,
    extra: Option<&'a ExtraName>,
    meta: &'a lastmile_dist::DistMetadata,
}

impl Need<'_> {
    /// Every requirement that applies is pinned at a version it allows; the extras it asks of
    /// others go into `asked`.
    fn check(
        &self,
        pinned: &Pinned,
        env: &lastmile_python::MarkerEnvironment,
        problems: &mut Vec<String>,
        asked: &mut Vec<(PackageName, ExtraName)>,
    ) -> anyhow::Result<()> {
        let name = self.name;
        let origin = &pinned[name].1.pin.origin;
        let what = match self.extra {
            Some(extra) => format!("{name}[{extra}]"),
            None => name.to_string(),
        };
        for raw in &self.meta.dependencies {
            let requirement = parse_requirement(&raw.text, &raw.location)?;
            let with: Vec<ExtraName> = self.extra.into_iter().cloned().collect();
            let applies = requirement.marker.evaluate(env, &with);
            // An extra's own requirements are those that need the extra to apply.
            let only_with_extra = self.extra.is_some() && requirement.marker.evaluate(env, &[]);
            if !applies || only_with_extra {
                continue;
            }
            let Some((version, _)) = pinned.get(&requirement.name) else {
                let unsafe_hint = if matches!(requirement.name.as_ref(), "setuptools" | "pip") {
                    " (pin-deps leaves setuptools and pip out unless --allow-unsafe)"
                } else {
                    ""
                };
                problems.push(format!(
                    "{origin}: {what} requires {requirement}, which is not pinned{unsafe_hint}"
                ));
                continue;
            };
            if let Some(VersionOrUrl::VersionSpecifier(specifiers)) = &requirement.version_or_url
                && !specifiers.contains(version)
            {
                problems.push(format!(
                    "{origin}: {what} requires {requirement}, but {}=={version} is pinned",
                    requirement.name
                ));
            }
            for wanted in &requirement.extras {
                asked.push((requirement.name.clone(), wanted.clone()));
            }
        }
        Ok(())
    }
}

/// No problem, or the first ten and how many more.
fn report(mut problems: Vec<String>, target: &Target) -> anyhow::Result<()> {
    if problems.is_empty() {
        return Ok(());
    }
    problems.sort();
    problems.dedup();
    let shown: Vec<String> = problems.iter().take(10).cloned().collect();
    let more = problems.len().saturating_sub(shown.len());
    bail!(
        "the pins are not a whole system for {target}:\n  {}{}\n(pin again with pin-deps, for this base: --target-rootfs)",
        shown.join("\n  "),
        if more > 0 {
            format!("\n  ... and {more} more")
        } else {
            String::new()
        }
    )
}

//! Explain a failed resolution in plain words: the facts PubGrub's derivation rests on, each
//! naming where a requirement was written and writing version ranges in terms of the versions
//! that exist, then the conclusion.

use std::collections::BTreeSet;
use std::fmt::Write;
use std::ops::Bound;

use lastmile_python::Version;
use pubgrub::{DerivationTree, External};

use crate::provider::{Pkg, Provider, Range, available};

/// `>=2, <3`, `==1.0`, `any version`, or several such joined by `or`.
pub(crate) fn range_text(range: &Range) -> String {
    let mut parts = Vec::new();
    for (low, high) in range.iter() {
        let part = match (low, high) {
            (Bound::Unbounded, Bound::Unbounded) => "any version".to_owned(),
            (Bound::Included(a), Bound::Included(b)) if a == b => format!("=={a}"),
            (low, high) => {
                let mut bits = Vec::new();
                match low {
                    Bound::Included(v) => bits.push(format!(">={v}")),
                    Bound::Excluded(v) => bits.push(format!(">{v}")),
                    Bound::Unbounded => {}
                }
                match high {
                    Bound::Included(v) => bits.push(format!("<={v}")),
                    Bound::Excluded(v) => bits.push(format!("<{v}")),
                    Bound::Unbounded => {}
                }
                bits.join(", ")
            }
        };
        parts.push(part);
    }
    if parts.is_empty() {
        "no version".to_owned()
    } else {
        parts.join(" or ")
    }
}

fn list(versions: &[Version]) -> String {
    versions
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `tornado>=6.3`, or just `katportal` for any version.
fn requirement_text(pkg: &Pkg, range: &Range) -> String {
    if range == &Range::full() {
        pkg.to_string()
    } else {
        let text = range_text(range);
        if text.starts_with(['<', '>', '=', '!', '~']) {
            format!("{pkg}{text}")
        } else {
            format!("{pkg} {text}")
        }
    }
}

/// `a 2.0 and 2.1` for the existing versions of `pkg` inside `range`, else `a <range>`.
fn versions_in(provider: &Provider, pkg: &Pkg, range: &Range) -> String {
    let Some(name) = pkg.name() else {
        return pkg.to_string();
    };
    let existing = available(provider.finder, name);
    let inside: Vec<Version> = existing.iter().filter(|v| range.contains(v)).cloned().collect();
    match inside.as_slice() {
        [] => format!("{pkg} {}", range_text(range)),
        [one] => format!("{pkg} {one}"),
        many if many.len() == existing.len() => format!("every version of {pkg} ({})", list(many)),
        many => format!("{pkg} {}", list(many)),
    }
}

/// ` (in FILE)` when the range holds one existing version, naming the file its metadata came from.
fn declared_in(provider: &Provider, pkg: &Pkg, range: &Range) -> String {
    let Some(name) = pkg.name() else {
        return String::new();
    };
    let inside: Vec<Version> = available(provider.finder, name)
        .into_iter()
        .filter(|v| range.contains(v))
        .collect();
    match inside.as_slice() {
        [one] => match provider.declared(name, one) {
            Ok(Some(declared)) => format!(" (in {})", declared.source),
            _ => String::new(),
        },
        _ => String::new(),
    }
}

fn origin_of_root(provider: &Provider, dependency: &Pkg) -> String {
    let Some(name) = dependency.name() else {
        return "the requirements".into();
    };
    let origins: Vec<&str> = provider
        .roots
        .iter()
        .filter(|r| &r.requirement.name == name)
        .map(|r| r.origin.as_str())
        .collect();
    if origins.is_empty() {
        "the requirements".into()
    } else {
        origins.join(" and ")
    }
}

/// ` (narrowed by the constraint in versions.txt:3)` when constraints narrowed what a requirement
/// of `dependency` allows, so the reader knows where the range came from.
fn constrained_by(provider: &Provider, dependency: &Pkg) -> String {
    match dependency
        .name()
        .and_then(|name| provider.constraint_origins.get(name))
    {
        Some(origins) if !origins.is_empty() => format!(
            " (narrowed by the constraint{} in {})",
            if origins.len() == 1 { "" } else { "s" },
            origins.join(", ")
        ),
        _ => String::new(),
    }
}

/// Why no version of `pkg` in `range` can be chosen, in words; `None` for PubGrub's own
/// bookkeeping.
fn no_versions(provider: &Provider, pkg: &Pkg, range: &Range) -> Option<String> {
    let name = pkg.name()?;
    let existing = available(provider.finder, name);
    // PubGrub's own bookkeeping ("no version other than the ones tried"): the range is all
    // versions except some that exist. It says nothing a person can act on.
    let complement = range.complement();
    let excluded_only_existing = complement != Range::empty()
        && complement.iter().all(
            |seg| matches!(seg, (Bound::Included(a), Bound::Included(b)) if a == b && existing.contains(a)),
        );
    if !existing.is_empty() && excluded_only_existing {
        return None;
    }
    let matching: Vec<Version> = existing.iter().filter(|v| range.contains(v)).cloned().collect();
    let yanked: Vec<Version> = provider
        .finder
        .yanked_versions(name)
        .into_iter()
        .filter(|v| range.contains(v))
        .collect();
    Some(if matching.is_empty() && !yanked.is_empty() {
        format!(
            "the versions of {} are yanked ({}); a yanked version is used only when pinned exactly (==)",
            requirement_text(pkg, range),
            list(&yanked)
        )
    } else if existing.is_empty() {
        if provider.finder.knows(name) {
            format!("{pkg} has no file the target ({}) can install", provider.target)
        } else if provider.finder.in_house(name) {
            let sources = provider.finder.in_house_sources();
            format!(
                "{pkg} is in-house and no in-house source has it ({}; another index is never asked for an in-house package: build its wheel into a -f folder or publish it to the --internal-index)",
                if sources.is_empty() {
                    "none is given".to_owned()
                } else {
                    format!("asked: {}", sources.join(", "))
                }
            )
        } else {
            format!(
                "{pkg} is not in the package sources (looked in: {})",
                provider.finder.source_names().join(", ")
            )
        }
    } else if provider.wheels_only && !matching.is_empty() {
        format!(
            "{} has no wheel for the target (a build requirement is never built itself)",
            versions_in(provider, pkg, range)
        )
    } else if !matching.is_empty() && matching.iter().all(Version::any_prerelease) {
        format!(
            "the versions of {} are all pre-releases ({}), which are not allowed here (see --prerelease)",
            requirement_text(pkg, range),
            list(&matching)
        )
    } else {
        format!(
            "no version of {pkg} matches {}; the versions are {}",
            range_text(range),
            list(&existing)
        )
    })
}

fn fact(provider: &Provider, external: &External<Pkg, Range, String>) -> Option<String> {
    Some(match external {
        External::NotRoot(..) => return None,
        External::NoVersions(Pkg::Python, range) => format!(
            "the target is {}, which is not Python {}",
            provider.target,
            range_text(range)
        ),
        External::NoVersions(pkg, range) => no_versions(provider, pkg, range)?,
        External::FromDependencyOf(Pkg::Root, _, dependency, range) => {
            format!(
                "{} requires {}{}",
                origin_of_root(provider, dependency),
                requirement_text(dependency, range),
                constrained_by(provider, dependency)
            )
        }
        External::FromDependencyOf(pkg, range, Pkg::Python, python) => format!(
            "{} requires Python {}",
            versions_in(provider, pkg, range),
            range_text(python)
        ),
        External::FromDependencyOf(Pkg::Extra(name, extra), range, Pkg::Name(dep), _) if dep == name => {
            format!(
                "{}[{extra}] is {name} with its {extra} extra",
                versions_in(provider, &Pkg::Name(name.clone()), range)
            )
        }
        External::FromDependencyOf(pkg, range, dependency, dependency_range) => format!(
            "{} requires {}{}{}",
            versions_in(provider, pkg, range),
            requirement_text(dependency, dependency_range),
            declared_in(provider, pkg, range),
            constrained_by(provider, dependency)
        ),
        External::Custom(pkg, range, reason) => format!("{} {reason}", versions_in(provider, pkg, range)),
    })
}

fn collect(
    provider: &Provider,
    tree: &DerivationTree<Pkg, Range, String>,
    out: &mut Vec<String>,
    seen: &mut BTreeSet<String>,
) {
    match tree {
        DerivationTree::External(external) => {
            if let Some(text) = fact(provider, external)
                && seen.insert(text.clone())
            {
                out.push(text);
            }
        }
        DerivationTree::Derived(derived) => {
            collect(provider, &derived.cause1, out, seen);
            collect(provider, &derived.cause2, out, seen);
        }
    }
}

/// The facts a failed resolution rests on, one line each.
pub(crate) fn facts(provider: &Provider, tree: &DerivationTree<Pkg, Range, String>) -> Vec<String> {
    let mut facts = Vec::new();
    collect(provider, tree, &mut facts, &mut BTreeSet::new());
    facts
}

/// The explanation printed when no resolution exists.
pub(crate) fn explain(provider: &Provider, tree: &DerivationTree<Pkg, Range, String>) -> String {
    let facts = facts(provider, tree);
    let mut out = format!(
        "no set of versions satisfies the requirements for {}:\n",
        provider.target
    );
    for fact in &facts {
        let _ = writeln!(out, "  - {fact}");
    }
    out.push_str("so these requirements cannot all be met; change one of the requirements above, or add the missing versions to the package sources");
    out
}

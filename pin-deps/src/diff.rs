//! `pin-deps diff OLD NEW`: how two pinned requirement files differ, package by package, with
//! what pulled each in (its `# via` annotation): what a re-pin moved, or where two resolvers
//! judged a marker or an extra differently. Exit 0 when they pin the same, 1 when they do not.

use std::collections::BTreeMap;
use std::fmt::Write;

use lastmile_python::PackageName;

/// One file's pins: version and the parents its `# via` names, by package.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Pins(BTreeMap<PackageName, (String, Vec<String>)>);

impl Pins {
    /// The pins of a file in pip-compile's format (pin-deps', pip-compile's, uv's).
    pub(crate) fn read(text: &str) -> Self {
        let mut pins = BTreeMap::new();
        let mut current: Option<PackageName> = None;
        for line in text.lines() {
            let trimmed = line.trim();
            if let Some(comment) = trimmed.strip_prefix('#') {
                let parent = comment.trim();
                let parent = parent.strip_prefix("via").map_or(parent, str::trim);
                if let Some(name) = &current
                    && !parent.is_empty()
                    && (comment.trim().starts_with("via") || line.starts_with("    #   "))
                {
                    pins.entry(name.clone())
                        .and_modify(|(_, via): &mut (String, Vec<String>)| via.push(parent.to_owned()));
                }
                continue;
            }
            if trimmed.is_empty() || trimmed.starts_with('-') || line.starts_with(' ') {
                continue;
            }
            let line = trimmed.trim_end_matches('\\').trim();
            let Some((name, version)) = line.split_once("==") else {
                current = None;
                continue;
            };
            let name = name.split('[').next().unwrap_or(name).trim();
            let version = version.split([' ', ';']).next().unwrap_or(version).to_owned();
            current = name.parse::<PackageName>().ok();
            if let Some(name) = &current {
                pins.insert(name.clone(), (version, Vec::new()));
            }
        }
        Pins(pins)
    }
}

/// Parents with the files of `-r FILE` and `-c FILE` shortened to their names: two pins made from
/// constraints files of the same name in different folders came the same way.
fn short(parents: &[String]) -> Vec<String> {
    parents
        .iter()
        .map(|parent| match parent.split_once(' ') {
            Some((option @ ("-r" | "-c"), file)) => format!(
                "{option} {}",
                std::path::Path::new(file)
                    .file_name()
                    .map_or(file.into(), |n| n.to_string_lossy())
            ),
            _ => parent.clone(),
        })
        .collect()
}

/// The differences between `old` and `new` (labelled so), one package a paragraph; empty when
/// they pin the same.
pub(crate) fn diff(old: &Pins, new: &Pins, labels: (&str, &str)) -> String {
    let (a, b) = labels;
    let mut out = String::new();
    let names: std::collections::BTreeSet<&PackageName> = old.0.keys().chain(new.0.keys()).collect();
    for name in names {
        let left = old.0.get(name);
        let right = new.0.get(name);
        if left.map(|(v, _)| v) == right.map(|(v, _)| v) {
            continue;
        }
        let version = |side: Option<&(String, Vec<String>)>| {
            side.map_or_else(|| "(not pinned)".to_owned(), |(v, _)| v.clone())
        };
        let via = |side: Option<&(String, Vec<String>)>| match side {
            Some((_, parents)) if !parents.is_empty() => parents.join(", "),
            _ => "?".to_owned(),
        };
        let _ = writeln!(out, "  {name}: {a} {}, {b} {}", version(left), version(right));
        match (left, right) {
            (Some((_, l)), Some((_, r))) if short(l) == short(r) => {
                let _ = writeln!(out, "    via {}", short(r).join(", "));
            }
            (Some(_), Some(_)) => {
                let _ = writeln!(out, "    via: {a}: {}; {b}: {}", via(left), via(right));
            }
            (Some(_), None) => {
                let _ = writeln!(out, "    only {a} pins it, via {}", via(left));
            }
            _ => {
                let _ = writeln!(out, "    only {b} pins it, via {}", via(right));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "#\n# header\n#\nkatcore==1.3.0 \\\n    --hash=sha256:aa\n    # via\n    #   katproxy\n    #   katsim\nnumpy==1.26.4\n    # via katcore\nidna==3.6\n    # via requests\n";
    const NEW: &str = "katcore==1.3.1 \\\n    --hash=sha256:bb\n    # via katproxy\nnumpy==1.26.4\n    # via katcore\npyyaml==6.0.1 ; python_version >= \"3.8\"\n    # via katconf\n";

    #[test]
    fn only_what_moved_is_said_with_what_pulled_it_in() {
        let text = diff(&Pins::read(OLD), &Pins::read(NEW), ("old", "new"));
        assert_eq!(
            text,
            "  idna: old 3.6, new (not pinned)\n    only old pins it, via requests\n\
             \x20 katcore: old 1.3.0, new 1.3.1\n    via: old: katproxy, katsim; new: katproxy\n\
             \x20 pyyaml: old (not pinned), new 6.0.1\n    only new pins it, via katconf\n"
        );
        assert_eq!(diff(&Pins::read(OLD), &Pins::read(OLD), ("a", "b")), "");
    }

    #[test]
    fn the_same_parents_are_said_once_and_constraints_files_by_name() {
        let old = "katcore==1.3.0.post1+gaaaaaaaaaaaa\n    # via\n    #   -c /ci/run1/versions.txt\n    #   katsim\n";
        let new = "katcore==1.3.0.post2+gbbbbbbbbbbbb\n    # via\n    #   -c /ci/run2/versions.txt\n    #   katsim\n";
        assert_eq!(
            diff(&Pins::read(old), &Pins::read(new), ("first", "second")),
            "  katcore: first 1.3.0.post1+gaaaaaaaaaaaa, second 1.3.0.post2+gbbbbbbbbbbbb\n    via -c versions.txt, katsim\n"
        );
    }
}

//! pip's `--only-binary` and `--no-binary`: which kinds of file each package may use.

use std::collections::BTreeSet;

/// Which kinds of file may be used, per package: pip's `--only-binary` and `--no-binary`
/// (`:all:`, `:none:`, or comma-separated names; a later option wins, name by name).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormatControl {
    /// Names (normalized) that must come as wheels; `:all:` for every package.
    only_binary: BTreeSet<String>,
    /// Names that must be built from sdists; `:all:` for every package.
    no_binary: BTreeSet<String>,
}

const ALL: &str = ":all:";

impl FormatControl {
    /// Apply `--only-binary VALUE`.
    pub fn only_binary(&mut self, value: &str) {
        Self::handle(value, &mut self.only_binary, &mut self.no_binary);
    }

    /// Apply `--no-binary VALUE`.
    pub fn no_binary(&mut self, value: &str) {
        Self::handle(value, &mut self.no_binary, &mut self.only_binary);
    }

    fn handle(value: &str, target: &mut BTreeSet<String>, other: &mut BTreeSet<String>) {
        for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match name {
                ALL => {
                    target.clear();
                    target.insert(ALL.to_owned());
                    other.clear();
                }
                ":none:" => target.clear(),
                name => {
                    let name = normalize(name);
                    other.remove(&name);
                    target.insert(name);
                }
            }
        }
    }

    /// Apply another control's options after these (the later wins).
    pub fn extend(&mut self, later: &FormatControl) {
        for name in &later.only_binary {
            self.only_binary(name);
        }
        for name in &later.no_binary {
            self.no_binary(name);
        }
    }

    /// Whether wheels and sdists of `name` may be used: `(wheels, sdists)`.
    pub fn allowed(&self, name: &str) -> (bool, bool) {
        let name = normalize(name);
        if self.only_binary.contains(&name) {
            (true, false)
        } else if self.no_binary.contains(&name) {
            (false, true)
        } else if self.only_binary.contains(ALL) {
            (true, false)
        } else if self.no_binary.contains(ALL) {
            (false, true)
        } else {
            (true, true)
        }
    }
}

/// A package name as PEP 503 compares them (other characters, such as a glob's `*`, kept).
pub(crate) fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

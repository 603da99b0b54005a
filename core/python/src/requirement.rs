//! Dependency declarations: PEP 508 requirement strings as written in a file, parsed with
//! `pep508_rs`, with the `extra == "..."` clause separated from the rest of the marker.

use std::cell::RefCell;
use std::collections::HashMap;
use std::str::FromStr;

use pep508_rs::marker::{MarkerExpression, MarkerValueExtra};
use pep508_rs::{ExtraName, MarkerTree, PackageName, Requirement, VersionOrUrl};

use lastmile_fs::{InputError, Location};

/// A requirement string as found in a file, before parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawDependency {
    /// The PEP 508 string, e.g. `katcp ~=0.9; python_version < "3.12"`.
    pub text: String,
    pub location: Location,
    /// The extra of the declaring package that activates this dependency, when the file says so
    /// outside the string (an `extras_require` key, an egg-info `[extra]` section).
    pub extra: Option<String>,
    /// A marker from outside the string (an egg-info `[extra:marker]` section).
    pub marker: Option<String>,
}

impl RawDependency {
    pub fn new(text: impl Into<String>, location: Location) -> Self {
        Self {
            text: text.into(),
            location,
            extra: None,
            marker: None,
        }
    }

    #[must_use]
    pub fn with_extra(mut self, extra: Option<&str>) -> Self {
        self.extra = extra.map(str::to_owned);
        self
    }
}

/// A parsed dependency: one edge of the dependency graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    pub name: PackageName,
    /// Extras requested of the dependency (`katcore[monitoring]`).
    pub extras: Vec<ExtraName>,
    /// The version specifier, normalised by `pep440_rs` (`>=1.2, <2`); empty for any version.
    pub specifier: String,
    /// A direct reference (`name @ url`), as written.
    pub url: Option<String>,
    /// The environment marker without the `extra == "..."` clause.
    pub marker: Option<String>,
    /// The extra of the declaring package that activates this dependency.
    pub extra: Option<ExtraName>,
    pub location: Location,
}

/// The deepest nesting of brackets a requirement or marker may have: real ones nest a few levels;
/// the parser recurses per level, so text nested thousands deep would overflow the stack.
pub const MAX_NESTING: usize = 32;

/// Refuse text whose brackets (outside quotes) nest deeper than [`MAX_NESTING`].
pub fn check_nesting(text: &str, location: &Location) -> Result<(), InputError> {
    let (mut depth, mut deepest, mut quote) = (0usize, 0usize, None);
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(' | '[') => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            (None, ')' | ']') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    if deepest > MAX_NESTING {
        return Err(InputError::new(
            location.clone(),
            format!("brackets nested {deepest} deep (at most {MAX_NESTING} are read)"),
        ));
    }
    Ok(())
}

/// A character outside the ASCII range that is not inside a quoted string of a marker.
///
/// No marker can hold one (names, operators and versions are ASCII), and pep508_rs 0.9 panics
/// on some (it measures the word after an expression in characters, then slices in bytes),
/// so markers holding one are refused here first (found by fuzzing).
fn non_ascii_outside_quotes(marker: &str) -> Option<char> {
    // A quote opens a string only where a value can start (after whitespace, a bracket or an
    // operator) and only if it is closed again; elsewhere pep508_rs reads it as part of a word,
    // so what follows it counts as outside quotes (found by fuzzing: `>= "3.9"://x\u{2e7}`).
    let chars: Vec<char> = marker.chars().collect();
    let mut previous = ' ';
    let mut at = 0;
    while at < chars.len() {
        let c = chars[at];
        let opens = matches!(c, '\'' | '"') && (previous.is_whitespace() || "(=<>!~".contains(previous));
        if opens && let Some(close) = chars[at + 1..].iter().position(|&q| q == c) {
            at += close + 2;
            previous = c;
            continue;
        }
        if !c.is_ascii() {
            return Some(c);
        }
        previous = c;
        at += 1;
    }
    None
}

/// Every text pep508_rs might read as the marker of a requirement: what follows each `;`. Before
/// the marker nothing is quoted in PEP 508 (a `"` in a URL or a malformed specifier is just a
/// character), and which `;` starts the marker depends on the form (after whitespace for
/// `name @ url`), so each candidate is checked (found by fuzzing: a quote before the `;` hid a
/// non-ASCII character after it).
fn marker_candidates(requirement: &str) -> impl Iterator<Item = &str> {
    requirement
        .match_indices(';')
        .map(|(at, _)| &requirement[at + 1..])
}

/// The marker part of a requirement, for splitting it off: after the first `;` outside quotes
/// (for a `name @ url` requirement, a `;` after whitespace, as the URL may hold one).
fn marker_part(requirement: &str) -> Option<&str> {
    let url_form = requirement
        .split(';')
        .next()
        .is_some_and(|head| head.contains('@'));
    let mut quote = None;
    let mut previous = ' ';
    for (at, c) in requirement.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, ';') if !url_form || previous.is_whitespace() => {
                return Some(&requirement[at + 1..]);
            }
            _ => {}
        }
        previous = c;
    }
    None
}

fn refuse_non_ascii(marker: &str, text: &str, location: &Location) -> Result<(), InputError> {
    match non_ascii_outside_quotes(marker) {
        Some(c) => Err(InputError::new(
            location.clone(),
            format!("invalid marker in {:?}: {c:?} outside quotes", text.trim()),
        )),
        None => Ok(()),
    }
}

/// Parse a PEP 508 marker, naming the file and line when it is invalid.
pub fn parse_marker(text: &str, location: &Location) -> Result<MarkerTree, InputError> {
    check_nesting(text, location)?;
    refuse_non_ascii(text, text, location)?;
    MarkerTree::from_str(text).map_err(|err| {
        InputError::new(
            location.clone(),
            format!(
                "invalid marker {text:?}: {}",
                first_line(&err.message.to_string())
            ),
        )
    })
}

/// The package name or an extra of a requirement that ends in `-`, `_` or `.`, if any.
fn name_or_extra_ending_in_punctuation(text: &str) -> Option<String> {
    let identifier = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    let bad = |token: &str| token.ends_with(['-', '_', '.']).then(|| token.to_owned());
    let rest = text.trim_start();
    let name_end = rest.find(|c: char| !identifier(c)).unwrap_or(rest.len());
    if let Some(found) = bad(&rest[..name_end]) {
        return Some(found);
    }
    let rest = rest[name_end..].trim_start();
    let extras = rest.strip_prefix('[')?;
    let extras = &extras[..extras.find(']').unwrap_or(extras.len())];
    extras
        .split(|c: char| !identifier(c))
        .filter(|token| !token.is_empty())
        .find_map(bad)
}

/// Parse a PEP 508 requirement, naming the file and line when it is invalid.
pub fn parse_requirement(text: &str, location: &Location) -> Result<Requirement, InputError> {
    check_nesting(text, location)?;
    for marker in marker_candidates(text) {
        refuse_non_ascii(marker, text, location)?;
    }
    // pep508_rs 0.9 panics on a name or an extra that ends in `-`, `_` or `.` when something
    // follows it (`a- >1`, `a[x- ]`): such names are refused here first (found by fuzzing).
    if let Some(bad) = name_or_extra_ending_in_punctuation(text) {
        return Err(InputError::new(
            location.clone(),
            format!(
                "invalid requirement {:?}: the name {bad:?} must end with a letter or digit",
                text.trim()
            ),
        ));
    }
    Requirement::from_str(text.trim()).map_err(|err| {
        InputError::new(
            location.clone(),
            format!(
                "invalid requirement {:?}: {}",
                text.trim(),
                first_line(&err.message.to_string())
            ),
        )
    })
}

impl Dependency {
    /// Parse a raw dependency, splitting a top-level `extra == "..."` off its marker.
    ///
    /// A package's requirements mostly repeat a few markers (`extra == "test"`,
    /// `python_version < "3.11"`), and turning a marker into its normal form is most of the work,
    /// so the requirement and its marker are parsed apart and each marker's result is kept per
    /// thread.
    pub fn parse(raw: &RawDependency) -> Result<Self, InputError> {
        let (head, marker_text) = match marker_part(&raw.text) {
            Some(marker) => (&raw.text[..raw.text.len() - marker.len() - 1], Some(marker)),
            None => (raw.text.as_str(), None),
        };
        check_nesting(&raw.text, &raw.location)?;
        let requirement = parse_requirement(head, &raw.location)?;
        let (marker, found_extra) = match (marker_text, &raw.marker) {
            // The marker was not where it is looked for (a URL running into it): as parsed.
            (None, outer) if !requirement.marker.is_true() => {
                normal_marker(requirement.marker.clone(), outer.as_deref(), &raw.location)?
            }
            (None, None) => (None, None),
            (inner, outer) => {
                let key = (inner.unwrap_or_default().trim().to_owned(), outer.clone());
                let cached = MARKERS.with(|cache| cache.borrow().get(&key).cloned());
                match cached {
                    Some(found) => found,
                    None => {
                        // An invalid marker is reported as the whole requirement would be.
                        let parsed = match inner {
                            Some(text) => parse_marker(text.trim(), &raw.location),
                            None => Ok(MarkerTree::TRUE),
                        };
                        let found = parsed
                            .and_then(|tree| normal_marker(tree, outer.as_deref(), &raw.location))
                            .or_else(|_| parse_requirement(&raw.text, &raw.location).map(|_| (None, None)))?;
                        MARKERS.with(|cache| cache.borrow_mut().insert(key, found.clone()));
                        found
                    }
                }
            }
        };
        let extra = match &raw.extra {
            Some(extra) => Some(ExtraName::from_str(extra).map_err(|err| {
                InputError::new(
                    raw.location.clone(),
                    format!("invalid extra name {extra:?}: {err}"),
                )
            })?),
            None => found_extra,
        };
        let (specifier, url) = match &requirement.version_or_url {
            None => (String::new(), None),
            Some(VersionOrUrl::VersionSpecifier(specifiers)) => (specifiers.to_string(), None),
            Some(VersionOrUrl::Url(url)) => (
                String::new(),
                Some(url.given().map_or_else(|| url.to_string(), str::to_owned)),
            ),
        };
        let mut extras = requirement.extras;
        extras.sort();
        extras.dedup();
        Ok(Dependency {
            name: requirement.name,
            extras,
            specifier,
            url,
            marker,
            extra,
            location: raw.location.clone(),
        })
    }
}

type MarkerCache = HashMap<(String, Option<String>), (Option<String>, Option<ExtraName>)>;

thread_local! {
    /// Normal forms of the markers met so far on this thread.
    static MARKERS: RefCell<MarkerCache> = RefCell::default();
}

/// A requirement's marker (and one from outside its string) in normal form, without its
/// top-level `extra == "..."` clause, and that extra.
fn normal_marker(
    mut marker: MarkerTree,
    outer: Option<&str>,
    location: &Location,
) -> Result<(Option<String>, Option<ExtraName>), InputError> {
    if let Some(outer) = outer {
        marker.and(parse_marker(outer, location)?);
    }
    let mut extra = None;
    if let Some(MarkerExpression::Extra {
        name: MarkerValueExtra::Extra(name),
        ..
    }) = marker.top_level_extra()
    {
        marker = marker.simplify_extras_with(|e| *e == name);
        extra = Some(name);
    }
    Ok((marker.try_to_string(), extra))
}

/// Parse a normalised package name, naming the place it came from.
pub fn parse_name(name: &str, location: &Location) -> Result<PackageName, InputError> {
    PackageName::from_str(name.trim()).map_err(|err| {
        InputError::new(
            location.clone(),
            format!("invalid package name {:?}: {err}", name.trim()),
        )
    })
}

fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep(text: &str) -> Dependency {
        Dependency::parse(&RawDependency::new(text, Location::line("setup.cfg", 7))).unwrap()
    }

    #[test]
    fn normalises_names_and_specifiers() {
        let d = dep("Kat_Core[Monitoring,monitoring] >=1.2,<2");
        assert_eq!(d.name.as_ref(), "kat-core");
        assert_eq!(
            d.extras.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["monitoring"]
        );
        assert_eq!(d.specifier, ">=1.2, <2");
        assert_eq!(d.marker, None);
        assert_eq!(d.extra, None);
    }

    #[test]
    fn splits_the_extra_from_the_marker() {
        let d = dep("katmisc[metrics]>=1.1; extra == 'monitoring' and python_version < '3.12'");
        assert_eq!(d.extra.unwrap().as_ref(), "monitoring");
        assert_eq!(d.marker.as_deref(), Some("python_full_version < '3.12'"));
        let d = dep("typing-extensions; python_version < \"3.12\"");
        assert_eq!(d.extra, None);
        assert!(d.marker.is_some());
    }

    #[test]
    fn context_extras_and_markers_combine() {
        let mut raw = RawDependency::new("pytest", Location::file("requires.txt")).with_extra(Some("test"));
        raw.marker = Some("os_name == 'posix'".into());
        let d = Dependency::parse(&raw).unwrap();
        assert_eq!(d.extra.unwrap().as_ref(), "test");
        assert_eq!(d.marker.as_deref(), Some("os_name == 'posix'"));
    }

    #[test]
    fn bad_requirements_name_file_and_line() {
        let err =
            Dependency::parse(&RawDependency::new("katcp >> 1", Location::line("setup.cfg", 7))).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("setup.cfg:7: invalid requirement \"katcp >> 1\": "),
            "{err}"
        );
    }

    #[test]
    fn a_name_ending_in_punctuation_is_refused_not_a_panic() {
        for text in [
            "a- >1",
            "a-@ x",
            "a.[x]",
            "a_;python_version>'3'",
            "a-",
            "a[mo- ]",
            "a[x,y. ,z]>1",
            "a [b_]",
        ] {
            let err = parse_requirement(text, &Location::line("r.in", 1)).unwrap_err();
            assert!(
                err.to_string().starts_with("r.in:1: invalid requirement"),
                "{err}"
            );
        }
    }

    #[test]
    fn a_marker_with_a_non_ascii_word_is_refused_not_a_panic() {
        // Found by fuzzing: pep508_rs slices the word after an expression at a character count.
        for text in [
            "a ; os_name == \"posix\" o!\u{7cc}x",
            "a ; os_name == 'posix' \u{e9}and python_version > '3'",
            "a @ https://example.org/a.whl ; os_name == 'posix' \u{e9}",
            "k[m] >=0.3 ; python_version >= \"3g] >=0.3 ; python_version >= \"3.9\"://0xa\u{2e7}0",
            "a ; os_name == 'posix' and\"\u{e9}\"",
            "x @ https://e/x-1 >= \"g] >=0.3 ; python_version >= \"3.9\"\u{615}d (os_name == \"p\"",
        ] {
            let err = parse_requirement(text, &Location::line("r.in", 2)).unwrap_err();
            assert!(err.to_string().starts_with("r.in:2: invalid marker in"), "{err}");
        }
        // pep508_rs's own message of an error before a non-ASCII character sliced it in bytes.
        for text in ["katcore[mon.1d\t\t\t\t\u{4cd}\u{7dd}", "a >= 1.0 \u{e9}\u{e9}"] {
            let err = parse_requirement(text, &Location::line("r.in", 2)).unwrap_err();
            assert!(
                err.to_string().starts_with("r.in:2: invalid requirement"),
                "{err}"
            );
        }
        let err = parse_marker("os_name == 'posix' \u{e9}", &Location::file("m")).unwrap_err();
        assert!(err.to_string().contains("outside quotes"), "{err}");
        // Inside quotes, and in a URL before its marker, such characters are fine.
        parse_requirement("a ; os_name == 'p\u{e9}six'", &Location::file("r")).unwrap();
        parse_requirement(
            "a @ file:///home/j\u{fc}rgen/a-1.0-py3-none-any.whl ; os_name == 'posix'",
            &Location::file("r"),
        )
        .unwrap();
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let deep = format!("a ; {}python_version > '3'{}", "(".repeat(5000), ")".repeat(5000));
        let err = parse_requirement(&deep, &Location::line("r.in", 3)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "r.in:3: brackets nested 5000 deep (at most 32 are read)"
        );
        let err = parse_marker(&"(".repeat(100_000), &Location::file("m")).unwrap_err();
        assert!(err.to_string().contains("nested 100000 deep"), "{err}");
        // Brackets inside quotes do not count; ordinary nesting is read.
        assert!(
            parse_requirement(
                "a ; os_name == '((((((((((((((((((((((((((((((((((('",
                &Location::file("r")
            )
            .is_ok()
        );
        assert!(
            parse_requirement(
                "a[x] ; (python_version > '3' and (os_name == 'posix'))",
                &Location::file("r")
            )
            .is_ok()
        );
    }

    #[test]
    fn direct_references_keep_the_url() {
        let d = dep("katcp @ https://example.invalid/katcp-1.0-py3-none-any.whl");
        assert_eq!(
            d.url.as_deref(),
            Some("https://example.invalid/katcp-1.0-py3-none-any.whl")
        );
        assert_eq!(d.specifier, "");
    }
}

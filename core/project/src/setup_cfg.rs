//! Read `setup.cfg` the way setuptools does (Python `configparser` syntax), keeping the line of
//! every value so a bad requirement is reported as `setup.cfg:12: ...`.
//!
//! A small reader rather than an INI crate: none reports the line of each continuation line, and
//! a requirement list in `setup.cfg` is exactly such a multi-line value.

use std::collections::BTreeMap;

use super::{Fields, VersionSource};
use lastmile_fs::{InputError, Location};
use lastmile_python::requirement::RawDependency;

/// One `key = value` entry; a multi-line value keeps each line with its number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) lines: Vec<(usize, String)>,
}

impl Entry {
    /// The non-empty lines of the value.
    pub(crate) fn items(&self) -> impl Iterator<Item = (usize, &str)> {
        self.lines
            .iter()
            .map(|(n, l)| (*n, l.trim()))
            .filter(|(_, l)| !l.is_empty())
    }

    pub(crate) fn text(&self) -> String {
        self.items().map(|(_, l)| l).collect::<Vec<_>>().join("\n")
    }
}

/// Sections by name, then keys (lower-cased, as configparser does) in file order.
pub(crate) type Ini = BTreeMap<String, Vec<(String, Entry)>>;

pub(crate) fn parse_ini(text: &str, location: &Location) -> Result<Ini, InputError> {
    let mut ini = Ini::new();
    let mut section: Option<String> = None;
    let mut current: Option<(String, Entry)> = None;
    let flush = |ini: &mut Ini, section: &Option<String>, current: &mut Option<(String, Entry)>| {
        if let (Some(section), Some(entry)) = (section, current.take()) {
            ini.entry(section.clone()).or_default().push(entry);
        }
    };
    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        let trimmed = raw.trim();
        if trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        let indented = raw.starts_with([' ', '\t']);
        if indented && current.is_some() {
            if let Some((_, entry)) = current.as_mut() {
                entry.lines.push((line_no, trimmed.to_owned()));
            }
            continue;
        }
        if trimmed.is_empty() {
            // A blank line inside a multi-line value is kept (configparser does); trailing ones are dropped.
            if let Some((_, entry)) = current.as_mut() {
                entry.lines.push((line_no, String::new()));
            }
            continue;
        }
        flush(&mut ini, &section, &mut current);
        if let Some(header) = trimmed.strip_prefix('[') {
            let Some(name) = header.strip_suffix(']') else {
                return Err(InputError::new(
                    location.at(line_no),
                    format!("unterminated section header {trimmed:?}"),
                ));
            };
            if ini.contains_key(name) {
                return Err(InputError::new(
                    location.at(line_no),
                    format!("section [{name}] appears twice"),
                ));
            }
            ini.insert(name.to_owned(), Vec::new());
            section = Some(name.to_owned());
            continue;
        }
        let split = trimmed.find(['=', ':']);
        let (Some(at), Some(_)) = (split, section.as_ref()) else {
            let what = if section.is_none() {
                "a value before any [section]"
            } else {
                "expected `key = value`"
            };
            return Err(InputError::new(
                location.at(line_no),
                format!("{what}: {trimmed:?}"),
            ));
        };
        let key = trimmed[..at].trim().to_ascii_lowercase();
        let value = trimmed[at + 1..].trim().to_owned();
        current = Some((
            key,
            Entry {
                lines: vec![(line_no, value)],
            },
        ));
    }
    flush(&mut ini, &section, &mut current);
    Ok(ini)
}

fn get<'a>(ini: &'a Ini, section: &str, key: &str) -> Option<&'a Entry> {
    ini.get(section)?
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, e)| e)
}

/// What a `setup.cfg` declares.
#[derive(Debug, Default)]
pub(crate) struct CfgInfo {
    pub(crate) fields: Fields,
    /// `version = attr: ...` or `version = file: ...`.
    pub(crate) version_source: Option<VersionSource>,
    /// `[options] package_dir`, which tells where `attr:` modules live.
    pub(crate) package_dir: BTreeMap<String, String>,
}

/// The metadata and options of a `setup.cfg`.
pub(crate) fn read(text: &str, location: &Location) -> Result<CfgInfo, InputError> {
    let ini = parse_ini(text, location)?;
    let mut fields = Fields::default();
    if let Some(name) = get(&ini, "metadata", "name") {
        let line = name.lines[0].0;
        fields.name = Some((name.text(), location.at(line)));
    }
    let mut version_source = None;
    if let Some(version) = get(&ini, "metadata", "version") {
        let text = version.text();
        let at = location.at(version.lines[0].0);
        if let Some(attr) = text.strip_prefix("attr:") {
            version_source = Some(VersionSource::Attr(attr.trim().to_owned(), at));
        } else if let Some(file) = text.strip_prefix("file:") {
            version_source = Some(VersionSource::File(file.trim().to_owned(), at));
        } else {
            fields.version = Some(text);
        }
    }
    if let Some(python) = get(&ini, "options", "python_requires") {
        fields.requires_python = Some(python.text());
    }
    if let Some(requires) = get(&ini, "options", "install_requires") {
        fields.dependencies = Some(requirement_lines(requires, location)?);
    }
    if let Some(requires) = get(&ini, "options", "setup_requires") {
        fields.setup_requires = Some(requirement_lines(requires, location)?);
    }
    if let Some(extras) = ini.get("options.extras_require") {
        let mut optional = BTreeMap::new();
        for (extra, entry) in extras {
            optional.insert(extra.clone(), requirement_lines(entry, location)?);
        }
        fields.optional = Some(optional);
    }
    if let Some(scripts) = get(&ini, "options.entry_points", "console_scripts") {
        let mut map = BTreeMap::new();
        for (line, spec) in scripts.items() {
            let (name, target) = lastmile_python::entry_points::parse_spec(spec).ok_or_else(|| {
                InputError::new(
                    location.at(line),
                    format!("expected `name = module:function`, got {spec:?}"),
                )
            })?;
            map.insert(name, target);
        }
        fields.scripts = Some(map);
    }
    // `package_dir = =src` (or a multi-line `=src` list) tells where `attr:` modules live.
    let mut package_dir = BTreeMap::new();
    if let Some(dirs) = get(&ini, "options", "package_dir") {
        for (_, item) in dirs.items() {
            if let Some((package, dir)) = item.split_once('=') {
                package_dir.insert(package.trim().to_owned(), dir.trim().to_owned());
            }
        }
    }
    Ok(CfgInfo {
        fields,
        version_source,
        package_dir,
    })
}

fn requirement_lines(entry: &Entry, location: &Location) -> Result<Vec<RawDependency>, InputError> {
    let mut out = Vec::new();
    for (line, item) in entry.items() {
        if item.starts_with("file:") {
            return Err(InputError::new(
                location.at(line),
                "`file:` is not supported for requirements in setup.cfg; use [tool.setuptools.dynamic] in pyproject.toml",
            ));
        }
        let item = item.split(" #").next().unwrap_or(item).trim();
        if !item.is_empty() {
            out.push(RawDependency::new(item, location.at(line)));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: &str = "[metadata]\nname = katmisc\nversion = attr: katmisc.__version__\n\n[options]\n\
install_requires =\n    katcp>=0.9\n    # a comment\n    typing-extensions>=4.0; python_version < \"3.12\"\n\
package_dir =\n    =src\n\n[options.extras_require]\nmetrics = prometheus-client>=0.17\n\n\
[options.entry_points]\nconsole_scripts =\n    kat-misc = katmisc.cli:main\n";

    #[test]
    fn reads_fields_with_lines() {
        let CfgInfo {
            fields,
            version_source: version,
            package_dir: dirs,
        } = read(CFG, &Location::file("setup.cfg")).unwrap();
        assert_eq!(fields.name.unwrap().0, "katmisc");
        let deps = fields.dependencies.unwrap();
        assert_eq!(
            deps.iter().map(|d| d.location.line.unwrap()).collect::<Vec<_>>(),
            [7, 9]
        );
        assert_eq!(fields.optional.unwrap()["metrics"][0].location.line, Some(14));
        assert_eq!(fields.scripts.unwrap()["kat-misc"], "katmisc.cli:main");
        assert!(matches!(version, Some(VersionSource::Attr(ref a, _)) if a == "katmisc.__version__"));
        assert_eq!(dirs[""], "src");
    }

    #[test]
    fn malformed_lines_are_named() {
        let err = read(
            "[metadata]\nname = x\nthis is not ini\n",
            &Location::file("setup.cfg"),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "setup.cfg:3: expected `key = value`: \"this is not ini\""
        );
        let err = read("name = x\n", &Location::file("setup.cfg")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "setup.cfg:1: a value before any [section]: \"name = x\""
        );
        let err = read("[a]\n[a]\n", &Location::file("setup.cfg")).unwrap_err();
        assert_eq!(err.to_string(), "setup.cfg:2: section [a] appears twice");
    }
}

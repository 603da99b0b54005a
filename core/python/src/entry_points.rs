//! `entry_points.txt` (the INI-style file in `*.dist-info` and `*.egg-info`): console and GUI scripts.

use std::collections::BTreeMap;

use lastmile_fs::{InputError, Location};

/// Entry points by group (`console_scripts`, `gui_scripts`, ...), then name, to `module:attr`.
pub type EntryPoints = BTreeMap<String, BTreeMap<String, String>>;

/// Parse an `entry_points.txt`.
pub fn parse(text: &str, location: &Location) -> Result<EntryPoints, InputError> {
    let mut out = EntryPoints::new();
    let mut group: Option<String> = None;
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[') {
            let name = header.strip_suffix(']').ok_or_else(|| {
                InputError::new(
                    location.at(index + 1),
                    format!("unterminated section header {line:?}"),
                )
            })?;
            group = Some(name.trim().to_owned());
            continue;
        }
        let (Some(group), Some((name, target))) = (&group, line.split_once('=')) else {
            return Err(InputError::new(
                location.at(index + 1),
                format!("expected `name = module:attr` inside a [group], got {line:?}"),
            ));
        };
        out.entry(group.clone())
            .or_default()
            .insert(name.trim().to_owned(), target.trim().to_owned());
    }
    Ok(out)
}

/// Parse `name = module:attr` lines as written in `setup.cfg` or a `setup.py` `entry_points` list.
pub fn parse_spec(spec: &str) -> Option<(String, String)> {
    let (name, target) = spec.split_once('=')?;
    let (name, target) = (name.trim(), target.trim());
    (!name.is_empty() && !target.is_empty()).then(|| (name.to_owned(), target.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_and_names() {
        let eps = parse(
            "[console_scripts]\nkat-proxy = katproxy.proxy:main\n\n[gui_scripts]\nviewer=kat.viewer:run\n",
            &Location::file("entry_points.txt"),
        )
        .unwrap();
        assert_eq!(eps["console_scripts"]["kat-proxy"], "katproxy.proxy:main");
        assert_eq!(eps["gui_scripts"]["viewer"], "kat.viewer:run");
    }

    #[test]
    fn bad_line_names_the_line() {
        let err = parse("[console_scripts]\njunk\n", &Location::file("e.txt")).unwrap_err();
        assert!(err.to_string().starts_with("e.txt:2: expected"));
    }
}

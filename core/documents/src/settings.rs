//! TOML files people write (an environment, a services file, an acceptance suite): read into a
//! typed struct, with every error naming the file, the line and the key, as
//! `lab.toml:14: nodes.monctl.memory: expected a size such as 512M`.

use std::time::Duration;

use lastmile_fs::{InputError, Location, line_of_offset};
use serde::de::DeserializeOwned;

/// Parse `text` (the contents of `file`) as `T`. Unknown keys are refused when `T` says
/// `deny_unknown_fields`, as every settings struct of lastmile does.
pub fn from_toml<T: DeserializeOwned>(text: &str, file: &str) -> Result<T, InputError> {
    toml::from_str(text).map_err(|error| {
        let message = error.message().trim_end_matches('\n').to_owned();
        match error.span() {
            Some(span) => {
                let line = line_of_offset(text, span.start);
                let message = match key_at(text, span.start) {
                    Some(key) if !message.contains(&format!("`{key}`")) => format!("{key}: {message}"),
                    _ => message,
                };
                InputError::new(Location::line(file, line), message)
            }
            None => InputError::new(Location::file(file), message),
        }
    })
}

/// The dotted key whose value (or table header) is at byte `offset` of `text`: the last table
/// header above it, and the key on its line (`nodes.monctl.memory`).
pub fn key_at(text: &str, offset: usize) -> Option<String> {
    let line_number = line_of_offset(text, offset);
    let mut table = String::new();
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if let Some(header) = header(trimmed) {
            table = header;
            if index + 1 == line_number {
                return Some(table);
            }
            continue;
        }
        if index + 1 == line_number {
            let key = key_of(trimmed)?;
            return Some(if table.is_empty() {
                key
            } else {
                format!("{table}.{key}")
            });
        }
    }
    None
}

/// Where `key` of table `table` is written (the key's line, else the table's header line, else
/// the file): for errors found after parsing, such as two nodes with one address.
pub fn locate(text: &str, file: &str, table: &str, key: Option<&str>) -> Location {
    let mut current = String::new();
    let mut header_line = None;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if let Some(found) = header(trimmed) {
            current = found;
            if current == table {
                header_line = Some(index + 1);
            }
            continue;
        }
        if current == table
            && let Some(key) = key
            && key_of(trimmed).as_deref() == Some(key)
        {
            return Location::line(file, index + 1);
        }
    }
    match header_line {
        Some(line) => Location::line(file, line),
        None => Location::file(file),
    }
}

/// A duration as people write it in settings: `60s`, `2m`, `1.5m`, `500ms`, `1h`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit() && c != '.')?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let seconds = match unit {
        "ms" => number / 1000.0,
        "s" => number,
        "m" | "min" => number * 60.0,
        "h" => number * 3600.0,
        _ => return None,
    };
    (0.0..1e7)
        .contains(&seconds)
        .then(|| Duration::from_secs_f64(seconds))
}

fn header(line: &str) -> Option<String> {
    let inner = line
        .strip_prefix("[[")
        .and_then(|l| l.split_once("]]"))
        .or_else(|| line.strip_prefix('[').and_then(|l| l.split_once(']')))?
        .0;
    Some(
        inner
            .split('.')
            .map(|part| part.trim().trim_matches('"'))
            .collect::<Vec<_>>()
            .join("."),
    )
}

fn key_of(line: &str) -> Option<String> {
    let (key, _) = line.split_once('=')?;
    let key = key.trim();
    if key.is_empty() || key.starts_with('#') {
        return None;
    }
    Some(
        key.split('.')
            .map(|part| part.trim().trim_matches('"'))
            .collect::<Vec<_>>()
            .join("."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct File {
        name: String,
        #[serde(default)]
        nodes: std::collections::BTreeMap<String, Node>,
    }

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Node {
        cpus: u32,
    }

    #[test]
    fn errors_name_the_file_line_and_key() {
        let text = "name = \"lab\"\n\n[nodes.monctl]\ncpus = \"two\"\n";
        let err = from_toml::<File>(text, "lab.toml").unwrap_err().to_string();
        assert!(err.starts_with("lab.toml:4: nodes.monctl.cpus: "), "{err}");
        let text = "name = \"lab\"\n[nodes.a]\ncpus = 1\nmemroy = \"1G\"\n";
        let err = from_toml::<File>(text, "lab.toml").unwrap_err().to_string();
        assert!(err.starts_with("lab.toml:4: ") && err.contains("memroy"), "{err}");
        let err = from_toml::<File>("[nodes.a]\ncpus = 1\n", "x.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("name"), "{err}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("60s"), Some(Duration::from_secs(60)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5m"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("60"), None);
        assert_eq!(parse_duration("-1s"), None);
        assert_eq!(parse_duration("soon"), None);
    }

    #[test]
    fn keys_are_located_after_parsing() {
        let text = "name = \"lab\"\n[nodes.\"a\"]\ncpus = 1\n[nodes.b]\ncpus = 2\n";
        assert_eq!(locate(text, "f", "nodes.b", Some("cpus")).to_string(), "f:5");
        assert_eq!(locate(text, "f", "nodes.a", None).to_string(), "f:2");
        assert_eq!(locate(text, "f", "", Some("name")).to_string(), "f:1");
        assert_eq!(locate(text, "f", "nodes.c", None).to_string(), "f");
    }
}

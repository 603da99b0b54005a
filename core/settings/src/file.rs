//! One settings file: its text, read into a typed struct with errors that name the line and key.

use std::ops::Range;
use std::path::Path;

use lastmile_fs::{InputError, Location};
use serde::de::DeserializeOwned;
use toml::Spanned;

/// A settings file's name (as given, for messages) and text.
#[derive(Debug, Clone)]
pub struct SettingsFile {
    name: String,
    text: String,
}

/// Read a settings file, with a bound (a device or an endless pipe is refused, not read).
pub fn load(path: &Path) -> Result<SettingsFile, InputError> {
    let name = path.display().to_string();
    let text = lastmile_fs::read_text(path)
        .map_err(|e| InputError::new(Location::file(name.as_str()), e.to_string()))?;
    Ok(SettingsFile::new(name, text))
}

impl SettingsFile {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            text: text.into(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The whole file as `T`; an error names the line and the dotted key (`nodes.monctl.cpus`).
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, InputError> {
        let deserializer = toml::de::Deserializer::parse(&self.text).map_err(|e| self.toml_error(&e, ""))?;
        serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let path = dotted(e.path());
            self.toml_error(e.inner(), &path)
        })
    }

    /// Where byte range `span` of the text is.
    pub fn location(&self, span: Range<usize>) -> Location {
        Location::file(self.name.as_str()).at_offset(&self.text, span.start)
    }

    /// A problem found after parsing, placed at `span`.
    pub fn error(&self, span: Range<usize>, message: impl Into<String>) -> InputError {
        InputError::new(self.location(span), message)
    }

    /// A problem with a value read as [`Spanned`], placed at its line.
    pub fn error_at<T>(&self, value: &Spanned<T>, message: impl Into<String>) -> InputError {
        self.error(value.span(), message)
    }

    /// A problem with the file as a whole (no line).
    pub fn error_in_file(&self, message: impl Into<String>) -> InputError {
        InputError::new(Location::file(self.name.as_str()), message)
    }

    fn toml_error(&self, error: &toml::de::Error, path: &str) -> InputError {
        let message = error.message().trim_end_matches('\n');
        let message = with_key(path, message);
        match error.span() {
            Some(span) => self.error(span, message),
            None => self.error_in_file(message),
        }
    }
}

/// serde's path to a value as dotted keys (`groups.monctl.tests[1].port`), without the parts of
/// a [`Spanned`] value's own representation.
pub(crate) fn dotted(path: &serde_path_to_error::Path) -> String {
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            serde_path_to_error::Segment::Map { key } if key.starts_with("$__serde_spanned") => {}
            serde_path_to_error::Segment::Map { key }
            | serde_path_to_error::Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            serde_path_to_error::Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            serde_path_to_error::Segment::Unknown => {}
        }
    }
    out
}

/// `key: message`, the key as serde's path gives it (`groups.monctl.tests[1].port`). An unknown
/// key is named by the message itself, so its table is given instead.
pub(crate) fn with_key(path: &str, message: &str) -> String {
    let last = path.rsplit(['.', '[']).next().unwrap_or("");
    let path = if !last.is_empty() && message.contains(&format!("`{last}`")) {
        path[..path.len() - last.len()].trim_end_matches(['.', '['])
    } else {
        path
    };
    if path.is_empty() {
        message.to_owned()
    } else {
        format!("{path}: {message}")
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct File {
        name: Spanned<String>,
        #[serde(default)]
        nodes: BTreeMap<String, Node>,
    }

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Node {
        cpus: u32,
        timeout: Option<crate::Duration>,
        size: Option<Spanned<u8>>,
    }

    fn error(text: &str) -> String {
        SettingsFile::new("lab.toml", text)
            .parse::<File>()
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn errors_name_the_file_line_and_key() {
        assert_eq!(
            error("name = \"lab\"\n\n[nodes.monctl]\ncpus = \"two\"\n"),
            "lab.toml:4: nodes.monctl.cpus: invalid type: string \"two\", expected u32"
        );
        assert_eq!(
            error("name = \"lab\"\n[nodes.a]\ncpus = 1\nmemroy = \"1G\"\n"),
            "lab.toml:4: nodes.a: unknown field `memroy`, expected one of `cpus`, `timeout`, `size`"
        );
        assert_eq!(
            error("name = \"lab\"\n[nodes.a]\ncpus = 1\ntimeout = \"soon\"\n"),
            "lab.toml:4: nodes.a.timeout: \"soon\": expected a duration such as 60s, 2m or 500ms"
        );
        assert_eq!(
            error("name = \"lab\"\n[nodes.a]\ncpus = 1\nsize = 300\n"),
            "lab.toml:4: nodes.a.size: invalid value: integer `300`, expected u8"
        );
        assert_eq!(error("[nodes.a]\ncpus = 1\n"), "lab.toml:1: missing field `name`");
        assert!(error("name = \"lab\"\n[nodes.a\n").starts_with("lab.toml:2: "));
    }

    #[test]
    fn checks_after_parsing_are_placed_at_the_value() {
        let file = SettingsFile::new("lab.toml", "\n\nname = \"Lab\"\n");
        let parsed: File = file.parse().unwrap();
        assert_eq!(
            file.error_at(&parsed.name, "name: lower-case only").to_string(),
            "lab.toml:3: name: lower-case only"
        );
    }

    #[test]
    fn a_file_too_large_or_not_text_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.toml");
        std::fs::write(&path, b"name = \"\xff\"").unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(
            err.ends_with("x.toml: not UTF-8 text (byte 8 is invalid)"),
            "{err}"
        );
    }
}

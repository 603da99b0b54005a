//! Where a piece of input came from, so every error can name the file and line.

use std::fmt;
use std::sync::Arc;

/// A file (or an entry inside an archive, written `archive!entry`) and an optional 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    /// Shared: every requirement of a file carries its location, and copies cost a count.
    pub file: Arc<str>,
    pub line: Option<usize>,
}

impl Location {
    pub fn file(file: impl Into<String>) -> Self {
        Self {
            file: Arc::from(file.into()),
            line: None,
        }
    }

    pub fn line(file: impl Into<String>, line: usize) -> Self {
        Self {
            file: Arc::from(file.into()),
            line: Some(line),
        }
    }

    /// The same file at another line.
    #[must_use]
    pub fn at(&self, line: usize) -> Self {
        Self {
            file: self.file.clone(),
            line: Some(line),
        }
    }

    /// The location of byte `offset` of `text`, the contents of this file.
    #[must_use]
    pub fn at_offset(&self, text: &str, offset: usize) -> Self {
        self.at(line_of_offset(text, offset))
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}", self.file),
            None => f.write_str(&self.file),
        }
    }
}

/// The 1-based line that byte `offset` of `text` is on.
pub fn line_of_offset(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end].iter().filter(|&&b| b == b'\n').count() + 1
}

/// Input that cannot be used, with the place it came from: `setup.cfg:12: invalid requirement ...`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {message}")]
pub struct InputError {
    pub location: Location,
    pub message: String,
}

impl InputError {
    pub fn new(location: Location, message: impl Into<String>) -> Self {
        Self {
            location,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_to_lines() {
        let text = "a\nbb\n\nccc";
        assert_eq!(line_of_offset(text, 0), 1);
        assert_eq!(line_of_offset(text, 2), 2);
        assert_eq!(line_of_offset(text, 5), 3);
        assert_eq!(line_of_offset(text, 6), 4);
        assert_eq!(line_of_offset(text, 999), 4);
        assert_eq!(
            Location::file("x.toml").at_offset(text, 6).to_string(),
            "x.toml:4"
        );
    }
}

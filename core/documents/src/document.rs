//! Reading and writing documents: the schema field first, then the shape; pretty, deterministic
//! output.

use std::io::{self, Write};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A document could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error("{source_name}: not a JSON document: {error}")]
    Json {
        source_name: String,
        error: serde_json::Error,
    },
    #[error("{source_name}: no \"schema\" field; expected a {expected} document")]
    NoSchema { source_name: String, expected: String },
    #[error("{source_name}: this is a {found} document; expected {expected}")]
    WrongSchema {
        source_name: String,
        found: String,
        expected: String,
    },
    /// The wrong shape, at `line` of the text; `message` starts with the field it is in
    /// (`nodes[0].address: invalid IPv4 address syntax`).
    #[error("{source_name}:{line}: invalid {expected} document: {message}")]
    Invalid {
        source_name: String,
        line: usize,
        expected: String,
        message: String,
    },
    /// Well-formed JSON of the right shape whose parts do not fit together (an edge naming a
    /// package that is not a node, say).
    #[error("{source_name}: inconsistent {expected} document: {problem}")]
    Inconsistent {
        source_name: String,
        expected: String,
        problem: String,
    },
}

/// A document type: its version string and its JSON Schema (the file under `schemas/`).
pub trait Document: Serialize + DeserializeOwned {
    /// `lastmile.graph/v1`.
    const SCHEMA: &'static str;
    /// The JSON Schema the document follows, as committed under `schemas/`.
    const JSON_SCHEMA: &'static str;

    /// Parse a document, checking its schema field first and its consistency last.
    /// `source_name` names it in errors.
    fn from_json(text: &str, source_name: &str) -> Result<Self, DocumentError> {
        let document: Self = read(text, Self::SCHEMA, source_name)?;
        document.check().map_err(|problem| DocumentError::Inconsistent {
            source_name: source_name.to_owned(),
            expected: Self::SCHEMA.to_owned(),
            problem,
        })?;
        Ok(document)
    }

    /// What the schema cannot say: that the parts of the document fit together. A reader may
    /// rely on this after [`Document::from_json`].
    fn check(&self) -> Result<(), String> {
        Ok(())
    }

    /// The document as pretty JSON with a trailing newline.
    fn to_json(&self) -> String {
        to_string(self)
    }
}

/// Parse `text` as a document of schema `expected` (for example `lastmile.graph/v1`), checking the
/// schema field first so a newer or different document gets a message naming both versions.
pub fn read<T: DeserializeOwned>(text: &str, expected: &str, source_name: &str) -> Result<T, DocumentError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|error| DocumentError::Json {
        source_name: source_name.to_owned(),
        error,
    })?;
    match value.get("schema").and_then(|s| s.as_str()) {
        None => {
            return Err(DocumentError::NoSchema {
                source_name: source_name.to_owned(),
                expected: expected.to_owned(),
            });
        }
        Some(found) if found != expected => {
            return Err(DocumentError::WrongSchema {
                source_name: source_name.to_owned(),
                found: found.to_owned(),
                expected: expected.to_owned(),
            });
        }
        Some(_) => {}
    }
    // Read again from the text, so an error knows its line and the field it is in.
    drop(value);
    let mut deserializer = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        let message = without_position(&inner);
        DocumentError::Invalid {
            source_name: source_name.to_owned(),
            line: inner.line(),
            expected: expected.to_owned(),
            message: if path == "." {
                message
            } else {
                format!("{path}: {message}")
            },
        }
    })
}

/// serde_json's message without the " at line L column C" it appends (the line is said first).
fn without_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

/// Write a document as pretty JSON with a trailing newline.
pub fn write<W: Write, T: Serialize>(mut out: W, doc: &T) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut out, doc)?;
    out.write_all(b"\n")?;
    out.flush()
}

/// The document as pretty JSON text with a trailing newline.
pub fn to_string<T: Serialize>(doc: &T) -> String {
    let mut text = serde_json::to_string_pretty(doc).expect("documents serialize to JSON");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    struct Doc {
        #[allow(dead_code)]
        schema: String,
        n: u32,
    }

    #[test]
    fn checks_the_schema_before_the_shape() {
        let err = read::<Doc>(
            r#"{"schema": "lastmile.graph/v2"}"#,
            "lastmile.graph/v1",
            "g.json",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "g.json: this is a lastmile.graph/v2 document; expected lastmile.graph/v1"
        );
        let err = read::<Doc>(r#"{"n": 1}"#, "lastmile.graph/v1", "g.json").unwrap_err();
        assert!(err.to_string().contains("no \"schema\" field"));
        let doc = read::<Doc>(
            r#"{"schema": "lastmile.graph/v1", "n": 3}"#,
            "lastmile.graph/v1",
            "g.json",
        )
        .unwrap();
        assert_eq!(doc.n, 3);
    }
}

//! `RECORD` files (PEP 376, the wheel spec): one CSV row per installed file with its hash
//! (`sha256=` and the URL-safe base64 of the digest, unpadded) and size. Installers write them and
//! check wheels against them; `bake-image verify` checks an image's files against them.

use base64::Engine;
use lastmile_fs::Sha256;

/// One row: the path as written (relative to site-packages), its hash and size when given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub path: String,
    /// `sha256=...`; `None` for rows without a hash, like `RECORD` itself.
    pub hash: Option<String>,
    pub size: Option<u64>,
}

/// A malformed row, with its 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: not a RECORD row (PATH,HASH,SIZE): {text:?}")]
pub struct RecordError {
    pub line: usize,
    pub text: String,
}

/// Parse a `RECORD`: CSV rows of path, hash and size, where the path may be quoted (with `""`
/// for a quote inside). Blank lines are skipped.
pub fn parse(text: &str) -> Result<Vec<Row>, RecordError> {
    let mut rows = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let error = || RecordError {
            line: index + 1,
            text: line.chars().take(200).collect(),
        };
        let (path, rest) = if let Some(quoted) = line.strip_prefix('"') {
            let (path, rest) = quoted.split_once("\",").ok_or_else(error)?;
            (path.replace("\"\"", "\""), rest)
        } else {
            let (path, rest) = line.split_once(',').ok_or_else(error)?;
            (path.to_owned(), rest)
        };
        let (hash, size) = rest.split_once(',').ok_or_else(error)?;
        let size = match size.trim() {
            "" => None,
            digits => Some(digits.parse::<u64>().map_err(|_| error())?),
        };
        rows.push(Row {
            path,
            hash: Some(hash.trim()).filter(|h| !h.is_empty()).map(str::to_owned),
            size,
        });
    }
    Ok(rows)
}

/// The `RECORD` hash of a file's contents: `sha256=` and the URL-safe, unpadded base64 digest.
pub fn hash_of(contents: &[u8]) -> String {
    hash_of_digest(&Sha256::of(contents))
}

/// The `RECORD` hash for a digest computed elsewhere.
pub fn hash_of_digest(digest: &Sha256) -> String {
    format!(
        "sha256={}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_bytes())
    )
}

/// A path as a CSV field: quoted when it holds a comma, a quote or a newline.
pub fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// One row as written: `path,hash,size`, or `path,,` without a hash.
pub fn format_row(path: &str, hash_and_size: Option<(&str, u64)>) -> String {
    match hash_and_size {
        Some((hash, size)) => format!("{},{hash},{size}", csv_field(path)),
        None => format!("{},,", csv_field(path)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_with_quotes_and_without_hashes() {
        let rows = parse("a/b.py,sha256=x,3\n\"c,d\"\".py\",sha256=y,4\n\nRECORD,,\n").unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].path, "a/b.py");
        assert_eq!(rows[0].size, Some(3));
        assert_eq!(rows[1].path, "c,d\".py");
        assert_eq!(rows[1].hash.as_deref(), Some("sha256=y"));
        assert_eq!(rows[2].hash, None);
        assert_eq!(rows[2].size, None);
        assert_eq!(
            format_row(&rows[1].path, Some(("sha256=y", 4))),
            "\"c,d\"\".py\",sha256=y,4"
        );
        assert_eq!(format_row("RECORD", None), "RECORD,,");
    }

    #[test]
    fn bad_rows_name_their_line() {
        assert_eq!(
            parse("ok,sha256=x,1\njunk\n").unwrap_err().to_string(),
            "line 2: not a RECORD row (PATH,HASH,SIZE): \"junk\""
        );
        assert!(parse("a,sha256=x,big\n").is_err());
        assert!(parse("\"unterminated,sha256=x,1\n").is_err());
    }

    #[test]
    fn hashes_are_url_safe_base64_without_padding() {
        assert_eq!(hash_of(b""), "sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
    }
}

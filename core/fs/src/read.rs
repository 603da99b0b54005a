//! Reading input files with a bound, so a huge or endless input (a device, a runaway pipe) is
//! refused with a clear error instead of filling memory.

use std::io::{self, Read};
use std::path::Path;

/// The most any text input (requirements, TOML, a JSON document) may hold: far above any real
/// one, far below what would exhaust memory.
pub const TEXT_LIMIT: u64 = 64 << 20;

/// Read at most `limit` bytes of text from `reader`; more is an error naming the limit.
pub fn read_text_limited(reader: impl Read, limit: u64) -> io::Result<String> {
    let mut bytes = Vec::new();
    reader.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {} MiB; not read", limit >> 20),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "not UTF-8 text (byte {} is invalid)",
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

/// Read a text file of at most [`TEXT_LIMIT`] bytes.
pub fn read_text(path: &Path) -> io::Result<String> {
    read_text_limited(std::fs::File::open(path)?, TEXT_LIMIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_past_the_limit_or_not_text_are_refused() {
        assert_eq!(read_text_limited(&b"abc"[..], 3).unwrap(), "abc");
        let err = read_text_limited(&b"abcd"[..], 3).unwrap_err();
        assert!(err.to_string().starts_with("larger than"), "{err}");
        let err = read_text_limited(&b"ab\xffc"[..], 10).unwrap_err();
        assert_eq!(err.to_string(), "not UTF-8 text (byte 2 is invalid)");
        // An endless source stops at the bound.
        assert!(read_text_limited(std::io::repeat(b'x'), 1 << 20).is_err());
    }
}

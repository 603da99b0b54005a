//! sha256 digests as a value type.

use std::fmt;
use std::io::{self, Read, Write};
use std::path::Path;
use std::str::FromStr;

use sha2::Digest;

/// A sha256 digest. Its text form is always 64 lower-case hex characters: parsing refuses
/// anything else, so a digest taken from an index page or a file can be used in a cache path or
/// a file name without further checks.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256([u8; 32]);

/// Text that is not a sha256 digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{shown:?} is not a sha256 digest (64 hex characters)")]
pub struct DigestError {
    shown: String,
}

impl Sha256 {
    /// The digest of `bytes`.
    pub fn of(bytes: impl AsRef<[u8]>) -> Self {
        Self(sha2::Sha256::digest(bytes.as_ref()).into())
    }

    /// The digest of everything `reader` yields.
    pub fn of_reader(mut reader: impl Read) -> io::Result<Self> {
        let mut writer = Sha256Writer::new(io::sink());
        io::copy(&mut reader, &mut writer)?;
        Ok(writer.finish().0)
    }

    /// The digest of a regular file's contents (a device or FIFO is refused, not read forever),
    /// read to the length it had when opened: a file that grows while it is hashed is an error.
    pub fn of_file(path: &Path) -> io::Result<Self> {
        let (file, len) = crate::open_regular(path)?;
        let mut reader = Sha256Reader::new(file.take(len.saturating_add(1)));
        io::copy(&mut reader, &mut io::sink())?;
        if reader.read_bytes() != len {
            return Err(io::Error::other(format!(
                "changed while it was hashed ({len} bytes when opened, {} read)",
                reader.read_bytes()
            )));
        }
        Ok(reader.digest())
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The first `n` hex characters (at most 64), as image names use them.
    pub fn short(&self, n: usize) -> String {
        let mut text = self.to_string();
        text.truncate(n.min(64));
        text
    }
}

impl From<[u8; 32]> for Sha256 {
    fn from(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256({self})")
    }
}

impl FromStr for Sha256 {
    type Err = DigestError;

    /// 64 hex characters, either case; other text, however short or long, is refused.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || DigestError {
            shown: text.chars().take(80).collect(),
        };
        let bytes = text.as_bytes();
        if bytes.len() != 64 {
            return Err(error());
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let high = hex_value(pair[0]).ok_or_else(error)?;
            let low = hex_value(pair[1]).ok_or_else(error)?;
            out[i] = high << 4 | low;
        }
        Ok(Self(out))
    }
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

impl serde::Serialize for Sha256 {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Sha256 {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A writer that hashes what passes through it and counts the bytes.
#[derive(Debug)]
pub struct Sha256Writer<W> {
    inner: W,
    hasher: sha2::Sha256,
    written: u64,
}

impl<W: Write> Sha256Writer<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: sha2::Sha256::new(),
            written: 0,
        }
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// The digest of what was written so far (the writer goes on).
    pub fn digest(&self) -> Sha256 {
        Sha256(self.hasher.clone().finalize().into())
    }

    /// The digest of everything written, the byte count and the inner writer.
    pub fn finish(self) -> (Sha256, u64, W) {
        (Sha256(self.hasher.finalize().into()), self.written, self.inner)
    }
}

impl<W: Write> Write for Sha256Writer<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A reader that hashes what passes through it and counts the bytes: what is hashed is exactly
/// what the reader above it used, so a file can be checked and consumed in one pass.
#[derive(Debug)]
pub struct Sha256Reader<R> {
    inner: R,
    hasher: sha2::Sha256,
    read: u64,
}

impl<R: Read> Sha256Reader<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: sha2::Sha256::new(),
            read: 0,
        }
    }

    /// Bytes read so far.
    pub fn read_bytes(&self) -> u64 {
        self.read
    }

    /// The digest of what was read so far.
    pub fn digest(&self) -> Sha256 {
        Sha256(self.hasher.clone().finalize().into())
    }

    /// Read the rest of the inner reader, so the digest is of all of it; the digest and count.
    pub fn finish(mut self) -> io::Result<(Sha256, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        Ok((self.digest(), self.read))
    }
}

impl<R: Read> Read for Sha256Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.read += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn text_is_always_64_lower_case_hex() {
        assert_eq!(Sha256::of(b"").to_string(), EMPTY);
        let upper: Sha256 = EMPTY.to_ascii_uppercase().parse().unwrap();
        assert_eq!(upper.to_string(), EMPTY);
        assert_eq!(Sha256::of(b"").short(12), "e3b0c44298fc");
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "",
            "abc",
            &EMPTY[..63],
            &format!("{EMPTY}0"),
            "../../../../../../../../../../../../../../../../../../etc/passwd",
            &format!("{}é", &EMPTY[..62]),
            &EMPTY.replace('e', "g"),
        ] {
            assert!(bad.parse::<Sha256>().is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn serde_goes_through_the_text() {
        let digest = Sha256::of(b"x");
        let json = serde_json::to_string(&digest).unwrap();
        assert_eq!(json, format!("\"{digest}\""));
        assert_eq!(serde_json::from_str::<Sha256>(&json).unwrap(), digest);
        assert!(serde_json::from_str::<Sha256>("\"../x\"").is_err());
    }

    #[test]
    fn the_writer_hashes_what_it_passes_on() {
        let mut writer = Sha256Writer::new(Vec::new());
        writer.write_all(b"hello ").unwrap();
        writer.write_all(b"world").unwrap();
        let (digest, written, inner) = writer.finish();
        assert_eq!(digest, Sha256::of(b"hello world"));
        assert_eq!(written, 11);
        assert_eq!(inner, b"hello world");
        assert_eq!(Sha256::of_reader(&b"hello world"[..]).unwrap(), digest);
        let mut reader = Sha256Reader::new(&b"hello world"[..]);
        let mut first = [0u8; 6];
        reader.read_exact(&mut first).unwrap();
        assert_eq!(reader.read_bytes(), 6);
        assert_eq!(reader.finish().unwrap(), (digest, 11));
    }

    #[test]
    fn only_regular_files_are_hashed() {
        let err = Sha256::of_file(Path::new("/dev/zero")).unwrap_err();
        assert!(err.to_string().contains("a character device"), "{err}");
    }
}

//! A `Release` (the verified text of an `InRelease`): the suite, its date, and the sha256 and
//! size of every index it covers.

use std::collections::BTreeMap;

use lastmile_fs::Sha256;

use crate::DebianError;

/// The sha256 and size of a file, as an index gives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileSum {
    pub sha256: Sha256,
    pub size: u64,
}

/// The fields of a `Release` a lock records and checks against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub suite: String,
    pub codename: String,
    /// `Date:` as the archive wrote it (RFC 2822, UTC).
    pub date: String,
    pub components: Vec<String>,
    pub architectures: Vec<String>,
    /// Every file of the `SHA256:` list, by its path under `dists/SUITE/`.
    pub files: BTreeMap<String, FileSum>,
}

impl Release {
    /// Read the verified text of an `InRelease` (or a `Release`); `what` names it in messages.
    pub fn parse(what: &str, text: &str) -> Result<Release, DebianError> {
        let paragraph: deb822_fast::Paragraph = text
            .trim_start()
            .parse()
            .map_err(|e| DebianError::malformed(what, format!("not a Release file: {e}")))?;
        let field = |name: &str| -> Result<String, DebianError> {
            paragraph
                .get(name)
                .map(|v| v.trim().to_owned())
                .ok_or_else(|| DebianError::malformed(what, format!("no {name}: field")))
        };
        let words = |name: &str| -> Vec<String> {
            paragraph
                .get(name)
                .map(|v| v.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default()
        };
        let mut files = BTreeMap::new();
        for line in field("SHA256")?.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let bad = || DebianError::malformed(what, format!("SHA256: {line:?}: expected HASH SIZE PATH"));
            let mut parts = line.split_whitespace();
            let (Some(hash), Some(size), Some(path), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err(bad());
            };
            let sum = FileSum {
                sha256: hash.parse().map_err(|_| bad())?,
                size: size.parse().map_err(|_| bad())?,
            };
            files.insert(path.to_owned(), sum);
        }
        Ok(Release {
            suite: field("Suite")?,
            codename: field("Codename")?,
            date: field("Date")?,
            components: words("Components"),
            architectures: words("Architectures"),
            files,
        })
    }

    /// The sha256 and size this release gives `path` (under `dists/SUITE/`).
    pub fn file(&self, what: &str, path: &str) -> Result<&FileSum, DebianError> {
        self.files
            .get(path)
            .ok_or_else(|| DebianError::malformed(what, format!("{path} is not listed in its SHA256 field")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RELEASE: &str = "Origin: Debian\nLabel: Debian\nSuite: stable\nVersion: 12.12\nCodename: bookworm\n\
        Date: Sat, 06 Sep 2025 09:41:20 UTC\nArchitectures: all amd64 arm64\nComponents: main contrib\n\
        Description: Debian 12.12 Released 06 September 2025\nMD5Sum:\n 0ed6d4c8891eb86358b94bb35d9e4da4  1484322 contrib/Contents-all\n\
        SHA256:\n 3957f28db16e3f28c7b34ae84f1c929c567de6970f3f1b95dac9b498dd80fe63   738242 contrib/Contents-all\n \
        e0a5c3e5d0c9e8a4cdd9c3bc17b2ae3f0d1dee3f6f7d0b5a0a3e0a2b4f7e4d1c  8786141 main/binary-amd64/Packages.gz\n";

    #[test]
    fn a_release_gives_its_suite_date_and_the_sha256_of_every_index() {
        let release = Release::parse("InRelease", RELEASE).unwrap();
        assert_eq!(release.codename, "bookworm");
        assert_eq!(release.suite, "stable");
        assert_eq!(release.date, "Sat, 06 Sep 2025 09:41:20 UTC");
        assert_eq!(release.components, ["main", "contrib"]);
        assert_eq!(release.architectures, ["all", "amd64", "arm64"]);
        let packages = release
            .file("InRelease", "main/binary-amd64/Packages.gz")
            .unwrap();
        assert_eq!(packages.size, 8_786_141);
        assert_eq!(
            packages.sha256.to_string(),
            "e0a5c3e5d0c9e8a4cdd9c3bc17b2ae3f0d1dee3f6f7d0b5a0a3e0a2b4f7e4d1c"
        );
        // Only SHA256 counts: the MD5Sum list is not a source of hashes.
        assert_eq!(release.files.len(), 2);
        let err = release
            .file("InRelease", "main/binary-i386/Packages.gz")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "InRelease: main/binary-i386/Packages.gz is not listed in its SHA256 field"
        );
    }

    #[test]
    fn a_bad_release_says_what_is_wrong() {
        let err = Release::parse("x/InRelease", &RELEASE.replace("8786141", "big")).unwrap_err();
        assert!(
            err.to_string().starts_with("x/InRelease: SHA256: \"e0a5"),
            "{err}"
        );
        assert!(err.to_string().ends_with("expected HASH SIZE PATH"), "{err}");
        let err = Release::parse("x/InRelease", &RELEASE.replace("Codename: bookworm\n", "")).unwrap_err();
        assert_eq!(err.to_string(), "x/InRelease: no Codename: field");
    }
}

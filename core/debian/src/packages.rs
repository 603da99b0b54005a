//! A `Packages` index: one record per binary package, with what a lock keeps of it.

use std::io::BufRead;

use lastmile_fs::Sha256;

use crate::{DebianError, FileSum};

/// One binary package of a `Packages` index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub architecture: String,
    /// The pool path under the mirror's root (`pool/main/p/python3.11/...deb`).
    pub filename: String,
    pub file: FileSum,
    pub priority: Option<String>,
    pub essential: bool,
    /// `Depends:` and `Pre-Depends:` as written (apt decides; these are kept for explanations).
    pub depends: Option<String>,
    pub pre_depends: Option<String>,
    pub provides: Option<String>,
}

/// Every record of a `Packages` index (plain text; a `.gz` is decompressed first by the caller
/// or with [`flate2`]); `what` names it in messages.
pub fn read_packages(what: &str, reader: impl BufRead) -> Result<Vec<Package>, DebianError> {
    let mut packages = Vec::new();
    for (number, paragraph) in deb822_fast::Deb822::iter_paragraphs_from_reader(reader).enumerate() {
        let paragraph =
            paragraph.map_err(|e| DebianError::malformed(what, format!("record {}: {e}", number + 1)))?;
        let field = |name: &str| -> Result<String, DebianError> {
            paragraph.get(name).map(|v| v.trim().to_owned()).ok_or_else(|| {
                let package = paragraph.get("Package").unwrap_or("?");
                DebianError::malformed(
                    what,
                    format!("record {} ({package}): no {name}: field", number + 1),
                )
            })
        };
        let optional = |name: &str| paragraph.get(name).map(|v| v.trim().to_owned());
        let name = field("Package")?;
        let sha256: Sha256 = field("SHA256")?
            .parse()
            .map_err(|e| DebianError::malformed(what, format!("{name}: SHA256: {e}")))?;
        let size: u64 = field("Size")?
            .parse()
            .map_err(|_| DebianError::malformed(what, format!("{name}: Size: not a number")))?;
        let filename = field("Filename")?;
        if filename.starts_with('/') || filename.split('/').any(|part| part == ".." || part.is_empty()) {
            return Err(DebianError::malformed(
                what,
                format!("{name}: Filename {filename:?} leaves the mirror"),
            ));
        }
        packages.push(Package {
            version: field("Version")?,
            architecture: field("Architecture")?,
            filename,
            file: FileSum { sha256, size },
            priority: optional("Priority"),
            essential: optional("Essential").is_some_and(|v| v.eq_ignore_ascii_case("yes")),
            depends: optional("Depends"),
            pre_depends: optional("Pre-Depends"),
            provides: optional("Provides"),
            name,
        });
    }
    Ok(packages)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PACKAGES: &str = "Package: libc6\nSource: glibc\nVersion: 2.36-9+deb12u10\nInstalled-Size: 12986\n\
        Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>\nArchitecture: amd64\n\
        Depends: libgcc-s1\nDescription: GNU C Library: Shared libraries\n Contains the standard libraries.\n\
        Multi-Arch: same\nPriority: optional\nSection: libs\nFilename: pool/main/g/glibc/libc6_2.36-9+deb12u10_amd64.deb\n\
        Size: 2757936\nSHA256: 9d7fca3f37944c27c30696fd7b520d529a0f5f1c2004cc878b787820cc43c6ad\n\n\
        Package: dash\nVersion: 0.5.12-2\nArchitecture: amd64\nEssential: yes\nPre-Depends: libc6 (>= 2.34)\n\
        Priority: required\nFilename: pool/main/d/dash/dash_0.5.12-2_amd64.deb\nSize: 92116\n\
        SHA256: 8b105bac5c3a47579134a3d51a57e15df24913e56832933e8b84292cc64817bb\n";

    #[test]
    fn every_record_gives_its_pool_path_hash_and_priority() {
        let packages = read_packages("Packages", PACKAGES.as_bytes()).unwrap();
        assert_eq!(packages.len(), 2);
        let libc = &packages[0];
        assert_eq!(
            (libc.name.as_str(), libc.version.as_str()),
            ("libc6", "2.36-9+deb12u10")
        );
        assert_eq!(libc.filename, "pool/main/g/glibc/libc6_2.36-9+deb12u10_amd64.deb");
        assert_eq!(libc.file.size, 2_757_936);
        assert_eq!(libc.depends.as_deref(), Some("libgcc-s1"));
        assert!(!libc.essential);
        let dash = &packages[1];
        assert!(dash.essential);
        assert_eq!(dash.priority.as_deref(), Some("required"));
        assert_eq!(dash.pre_depends.as_deref(), Some("libc6 (>= 2.34)"));
    }

    #[test]
    fn a_record_without_a_hash_or_leaving_the_mirror_is_refused_by_name() {
        let err = read_packages(
            "x/Packages",
            PACKAGES.replace("SHA256: 8b10", "SHA1: 8b10").as_bytes(),
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "x/Packages: record 2 (dash): no SHA256: field");
        let err = read_packages(
            "x/Packages",
            PACKAGES
                .replace("pool/main/d/dash/", "pool/../../etc/")
                .as_bytes(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "x/Packages: dash: Filename \"pool/../../etc/dash_0.5.12-2_amd64.deb\" leaves the mirror"
        );
    }
}

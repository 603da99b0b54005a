//! The environment a resolution or an image is for: a CPython version on a Linux platform with a
//! given glibc. Markers and wheel tags are evaluated for this target, never for the host.

use std::fmt;
use std::str::FromStr;

use pep440_rs::Version;
use pep508_rs::{MarkerEnvironment, MarkerEnvironmentBuilder};

use crate::wheel_name::WheelName;

/// A CPython target: `3.11` on `x86_64-manylinux_2_36`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Major and minor version of CPython.
    pub python: (u8, u8),
    /// The full version for `python_full_version` markers (the minor version's `.0` if unknown).
    pub python_full: String,
    pub arch: String,
    /// glibc major and minor; `None` for a platform without manylinux support.
    pub glibc: Option<(u16, u16)>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TargetError(String);

type Table<T> = std::collections::HashMap<String, T>;

/// A target's supported wheel tags, python → abi → platform → rank (lower is better).
#[derive(Debug, Clone, Default)]
pub struct TagRanks(Table<Table<Table<usize>>>);

impl TagRanks {
    /// The best rank of any of the wheel's tags, `None` if the target supports none.
    pub fn rank(&self, wheel: &WheelName) -> Option<usize> {
        wheel
            .tags()
            .filter_map(|(py, abi, plat)| self.0.get(py)?.get(abi)?.get(plat).copied())
            .min()
    }
}

impl Target {
    /// `python` is `3.11` or `3.11.2`; `platform` is `ARCH-manylinux_X_Y` or `ARCH-linux`.
    pub fn new(python: &str, platform: &str) -> Result<Self, TargetError> {
        let parts: Vec<&str> = python.split('.').collect();
        let number = |s: &str| {
            s.parse::<u8>()
                .map_err(|_| TargetError(format!("python version {python:?} is not like 3.11")))
        };
        let (major, minor) = match parts.as_slice() {
            [major, minor] | [major, minor, _] => (number(major)?, number(minor)?),
            _ => return Err(TargetError(format!("python version {python:?} is not like 3.11"))),
        };
        if parts.len() == 3 {
            number(parts[2])?;
        }
        let python_full = if parts.len() == 3 {
            python.to_owned()
        } else {
            format!("{major}.{minor}.0")
        };
        let (arch, rest) = platform
            .split_once('-')
            .ok_or_else(|| TargetError(format!("platform {platform:?} is not like x86_64-manylinux_2_36")))?;
        let glibc = match rest.strip_prefix("manylinux_") {
            Some(version) => {
                let (a, b) = version.split_once('_').ok_or_else(|| {
                    TargetError(format!("platform {platform:?}: expected manylinux_MAJOR_MINOR"))
                })?;
                let parse = |s: &str| {
                    s.parse::<u16>()
                        .map_err(|_| TargetError(format!("platform {platform:?}: bad glibc version")))
                };
                Some((parse(a)?, parse(b)?))
            }
            None if rest == "linux" => None,
            None => {
                return Err(TargetError(format!(
                    "platform {platform:?}: expected ARCH-manylinux_X_Y or ARCH-linux"
                )));
            }
        };
        Ok(Target {
            python: (major, minor),
            python_full,
            arch: arch.to_owned(),
            glibc,
        })
    }

    pub fn python_version(&self) -> Version {
        Version::new([u64::from(self.python.0), u64::from(self.python.1)])
    }

    pub fn python_full_version(&self) -> Version {
        Version::from_str(&self.python_full).unwrap_or_else(|_| self.python_version())
    }

    /// The PEP 508 marker environment of the target.
    pub fn marker_environment(&self) -> MarkerEnvironment {
        let python_version = format!("{}.{}", self.python.0, self.python.1);
        MarkerEnvironment::try_from(MarkerEnvironmentBuilder {
            implementation_name: "cpython",
            implementation_version: &self.python_full,
            os_name: "posix",
            platform_machine: &self.arch,
            platform_python_implementation: "CPython",
            platform_release: "",
            platform_system: "Linux",
            platform_version: "",
            python_full_version: &self.python_full,
            python_version: &python_version,
            sys_platform: "linux",
        })
        .expect("the target's versions are valid")
    }

    /// The platform tags the target installs, most specific first.
    fn platforms(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some((major, minor)) = self.glibc {
            for m in (0..=minor).rev() {
                out.push(format!("manylinux_{major}_{m}_{}", self.arch));
                // The legacy aliases of PEP 600.
                match (major, m) {
                    (2, 17) => out.push(format!("manylinux2014_{}", self.arch)),
                    (2, 12) => out.push(format!("manylinux2010_{}", self.arch)),
                    (2, 5) => out.push(format!("manylinux1_{}", self.arch)),
                    _ => {}
                }
            }
        }
        out.push(format!("linux_{}", self.arch));
        out
    }

    /// Every `python-abi-platform` tag the target can install, in order of preference.
    pub fn supported_tags(&self) -> Vec<(String, String, String)> {
        let (major, minor) = self.python;
        let cp = format!("cp{major}{minor}");
        let platforms = self.platforms();
        let mut tags = Vec::new();
        for platform in &platforms {
            tags.push((cp.clone(), cp.clone(), platform.clone()));
        }
        for abi3 in (2..=minor).rev() {
            for platform in &platforms {
                tags.push((format!("cp{major}{abi3}"), "abi3".into(), platform.clone()));
            }
        }
        for platform in &platforms {
            tags.push((cp.clone(), "none".into(), platform.clone()));
        }
        for m in (0..=minor).rev() {
            for platform in &platforms {
                tags.push((format!("py{major}{m}"), "none".into(), platform.clone()));
            }
        }
        for platform in &platforms {
            tags.push((format!("py{major}"), "none".into(), platform.clone()));
        }
        tags.push((cp.clone(), "none".into(), "any".into()));
        for m in (0..=minor).rev() {
            tags.push((format!("py{major}{m}"), "none".into(), "any".into()));
        }
        tags.push((format!("py{major}"), "none".into(), "any".into()));
        tags
    }

    /// The preference rank of a wheel (lower is better), or `None` if the target cannot install it.
    /// To rank many wheels, build [`Self::tag_ranks`] once.
    pub fn wheel_rank(&self, wheel: &WheelName) -> Option<usize> {
        self.tag_ranks().rank(wheel)
    }

    /// The supported tags as a lookup table.
    pub fn tag_ranks(&self) -> TagRanks {
        let mut ranks = TagRanks::default();
        for (rank, (py, abi, plat)) in self.supported_tags().into_iter().enumerate() {
            ranks
                .0
                .entry(py)
                .or_default()
                .entry(abi)
                .or_default()
                .entry(plat)
                .or_insert(rank);
        }
        ranks
    }
}

impl Target {
    /// Read the target from a base root filesystem (a folder): the CPython version from
    /// `usr/lib/python3.X` (the full version from the dpkg database when it is there), the glibc
    /// version from the dpkg database or the C library's own version string, and the
    /// architecture from where the C library lives.
    pub fn from_rootfs(root: &std::path::Path) -> Result<Self, TargetError> {
        let fail = |what: &str| TargetError(format!("{}: {what}", root.display()));
        let mut minors: Vec<u8> = std::fs::read_dir(root.join("usr/lib"))
            .map_err(|e| fail(&format!("not a root filesystem (usr/lib: {e})")))?
            .filter_map(Result::ok)
            .filter_map(|e| {
                e.file_name()
                    .to_str()?
                    .strip_prefix("python3.")?
                    .parse::<u8>()
                    .ok()
            })
            .filter(|minor| root.join(format!("usr/lib/python3.{minor}/os.py")).is_file())
            .collect();
        minors.sort_unstable();
        let minor = *minors
            .last()
            .ok_or_else(|| fail("no CPython 3 found (usr/lib/python3.X/os.py)"))?;
        let status = std::fs::read_to_string(root.join("var/lib/dpkg/status")).unwrap_or_default();
        let python_full = dpkg_version(&status, &format!("python3.{minor}-minimal"))
            .and_then(|v| upstream(&v, 3))
            .unwrap_or_else(|| format!("3.{minor}.0"));
        let (arch, libc) = [
            "x86_64",
            "aarch64",
            "i386",
            "arm",
            "powerpc64le",
            "s390x",
            "riscv64",
        ]
        .iter()
        .flat_map(|arch| {
            let triplet = match *arch {
                "arm" => "arm-linux-gnueabihf".to_owned(),
                "i386" => "i386-linux-gnu".to_owned(),
                other => format!("{other}-linux-gnu"),
            };
            ["lib", "usr/lib"].map(|lib| (*arch, root.join(lib).join(&triplet).join("libc.so.6")))
        })
        .find(|(_, path)| path.exists())
        .ok_or_else(|| fail("no C library found (lib/ARCH-linux-gnu/libc.so.6)"))?;
        let glibc = dpkg_version(&status, "libc6")
            .and_then(|v| upstream(&v, 2))
            .or_else(|| libc_version_string(&libc))
            .ok_or_else(|| {
                fail("cannot tell the glibc version (no dpkg record, no version string in libc.so.6)")
            })?;
        let (major, glibc_minor) = glibc.split_once('.').ok_or_else(|| fail("bad glibc version"))?;
        let parse = |s: &str| {
            s.parse::<u16>()
                .map_err(|_| fail(&format!("bad glibc version {glibc}")))
        };
        Ok(Target {
            python: (3, minor),
            python_full,
            arch: arch.to_owned(),
            glibc: Some((parse(major)?, parse(glibc_minor)?)),
        })
    }

    /// `3.11` and `x86_64-manylinux_2_36`, as the command-line options write them.
    pub fn python_option(&self) -> String {
        format!("{}.{}", self.python.0, self.python.1)
    }

    pub fn platform_option(&self) -> String {
        match self.glibc {
            Some((a, b)) => format!("{}-manylinux_{a}_{b}", self.arch),
            None => format!("{}-linux", self.arch),
        }
    }
}

/// The `Version:` of an installed package in a dpkg status file.
fn dpkg_version(status: &str, package: &str) -> Option<String> {
    status.split("\n\n").find_map(|stanza| {
        let mut name = None;
        let mut version = None;
        let mut installed = false;
        for line in stanza.lines() {
            if let Some(v) = line.strip_prefix("Package: ") {
                name = Some(v.trim());
            } else if let Some(v) = line.strip_prefix("Version: ") {
                version = Some(v.trim());
            } else if let Some(v) = line.strip_prefix("Status: ") {
                installed = v.trim().ends_with(" installed");
            }
        }
        (name == Some(package) && installed)
            .then(|| version.map(str::to_owned))
            .flatten()
    })
}

/// The first `parts` dotted numbers of a Debian version (`2.36-9+deb12u4` -> `2.36`).
fn upstream(version: &str, parts: usize) -> Option<String> {
    let version = version.split(':').next_back()?;
    let numbers: Vec<&str> = version
        .split(|c: char| !c.is_ascii_digit() && c != '.')
        .next()?
        .split('.')
        .take(parts)
        .collect();
    (numbers.len() == parts && numbers.iter().all(|n| !n.is_empty())).then(|| numbers.join("."))
}

/// glibc prints "... release version 2.36." in its own binary.
fn libc_version_string(path: &std::path::Path) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    let marker = b"release version ";
    let at = bytes.windows(marker.len()).position(|w| w == marker)? + marker.len();
    let version: String = bytes[at..]
        .iter()
        .take_while(|b| b.is_ascii_digit() || **b == b'.')
        .map(|b| *b as char)
        .collect();
    let version = version.trim_end_matches('.');
    upstream(version, 2)
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.glibc {
            Some((a, b)) => write!(
                f,
                "Python {}.{} on {}-manylinux_{a}_{b}",
                self.python.0, self.python.1, self.arch
            ),
            None => write!(
                f,
                "Python {}.{} on {}-linux",
                self.python.0, self.python.1, self.arch
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target::new("3.11", "x86_64-manylinux_2_36").unwrap()
    }

    #[test]
    fn wheel_compatibility_is_for_the_target() {
        let t = target();
        let rank = |name: &str| t.wheel_rank(&name.parse().unwrap());
        assert!(rank("a-1-py3-none-any.whl").is_some());
        assert!(rank("a-1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl").is_some());
        assert!(rank("a-1-cp38-abi3-manylinux2014_x86_64.whl").is_some());
        assert!(rank("a-1-cp312-cp312-manylinux_2_17_x86_64.whl").is_none());
        assert!(rank("a-1-cp311-cp311-manylinux_2_38_x86_64.whl").is_none());
        assert!(rank("a-1-cp311-cp311-manylinux_2_17_aarch64.whl").is_none());
        assert!(rank("a-1-cp311-cp311-win_amd64.whl").is_none());
        assert!(rank("a-1-cp311-cp311-manylinux_2_28_x86_64.whl") < rank("a-1-py3-none-any.whl"));
    }

    #[test]
    fn markers_evaluate_for_the_target() {
        let env = target().marker_environment();
        let marker = |m: &str| pep508_rs::MarkerTree::from_str(m).unwrap().evaluate(&env, &[]);
        assert!(marker("python_version >= '3.11' and sys_platform == 'linux'"));
        assert!(!marker("python_version < '3.11'"));
        assert!(!marker("platform_machine == 'aarch64'"));
    }

    #[test]
    fn targets_are_read_from_a_root_filesystem() {
        let root = tempfile::tempdir().unwrap();
        let put = |rel: &str, data: &[u8]| {
            let path = root.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, data).unwrap();
        };
        put("usr/lib/python3.11/os.py", b"");
        put("usr/lib/python3/dist-packages/x", b"");
        put(
            "lib/x86_64-linux-gnu/libc.so.6",
            b"\x7fELF...GNU C Library (Debian GLIBC 2.36-9) stable release version 2.36.\n",
        );
        let target = Target::from_rootfs(root.path()).unwrap();
        assert_eq!(
            (target.python_option(), target.platform_option()),
            ("3.11".into(), "x86_64-manylinux_2_36".into())
        );
        assert_eq!(target.python_full, "3.11.0");
        put(
            "var/lib/dpkg/status",
            b"Package: libc6\nStatus: install ok installed\nVersion: 2.37-1\n\n\
Package: python3.11-minimal\nStatus: install ok installed\nVersion: 3.11.2-6+deb12u1\n",
        );
        let target = Target::from_rootfs(root.path()).unwrap();
        assert_eq!(target.glibc, Some((2, 37)));
        assert_eq!(target.python_full, "3.11.2");
        let empty = tempfile::tempdir().unwrap();
        assert!(
            Target::from_rootfs(empty.path())
                .unwrap_err()
                .to_string()
                .contains("not a root filesystem")
        );
    }

    #[test]
    fn bad_targets_are_named() {
        assert_eq!(
            Target::new("3", "x86_64-linux").unwrap_err().to_string(),
            "python version \"3\" is not like 3.11"
        );
        assert!(Target::new("3.11", "manylinux").is_err());
    }
}

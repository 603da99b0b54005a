//! The environment a resolution or an image is for: a CPython version on a Linux platform with a
//! given glibc. Markers and wheel tags are evaluated for this target, never for the host.

use std::fmt;
use std::str::FromStr;

use pep440_rs::Version;
use pep508_rs::{MarkerEnvironment, MarkerEnvironmentBuilder};

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

impl TargetError {
    pub(crate) fn new(message: String) -> Self {
        Self(message)
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
    fn markers_evaluate_for_the_target() {
        let env = target().marker_environment();
        let marker = |m: &str| pep508_rs::MarkerTree::from_str(m).unwrap().evaluate(&env, &[]);
        assert!(marker("python_version >= '3.11' and sys_platform == 'linux'"));
        assert!(!marker("python_version < '3.11'"));
        assert!(!marker("platform_machine == 'aarch64'"));
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

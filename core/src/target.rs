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
    pub fn wheel_rank(&self, wheel: &WheelName) -> Option<usize> {
        let supported = self.supported_tags();
        wheel
            .tags()
            .filter_map(|(py, abi, plat)| {
                supported
                    .iter()
                    .position(|(p, a, l)| p == py && a == abi && l == plat)
            })
            .min()
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
    fn bad_targets_are_named() {
        assert_eq!(
            Target::new("3", "x86_64-linux").unwrap_err().to_string(),
            "python version \"3\" is not like 3.11"
        );
        assert!(Target::new("3.11", "manylinux").is_err());
    }
}

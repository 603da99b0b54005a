//! Wheel file names (`{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl`, PEP 427) and
//! sdist file names (`{name}-{version}.tar.gz`).

use std::fmt;
use std::str::FromStr;

use pep440_rs::Version;
use pep508_rs::PackageName;

/// A parsed wheel file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelName {
    pub name: PackageName,
    pub version: Version,
    pub python: Vec<String>,
    pub abi: Vec<String>,
    pub platform: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: not a wheel file name ({why})")]
pub struct WheelNameError {
    file: String,
    why: String,
}

impl WheelName {
    /// Every `python-abi-platform` tag the wheel declares (compressed tag sets expanded).
    pub fn tags(&self) -> impl Iterator<Item = (&str, &str, &str)> {
        self.python.iter().flat_map(move |py| {
            self.abi.iter().flat_map(move |abi| {
                self.platform
                    .iter()
                    .map(move |plat| (py.as_str(), abi.as_str(), plat.as_str()))
            })
        })
    }
}

impl FromStr for WheelName {
    type Err = WheelNameError;

    fn from_str(file: &str) -> Result<Self, Self::Err> {
        let err = |why: &str| WheelNameError {
            file: file.to_owned(),
            why: why.to_owned(),
        };
        let stem = file.strip_suffix(".whl").ok_or_else(|| err("no .whl suffix"))?;
        let parts: Vec<&str> = stem.split('-').collect();
        let (name, version, tags) = match parts.as_slice() {
            [name, version, _build, py, abi, plat] => (name, version, [py, abi, plat]),
            [name, version, py, abi, plat] => (name, version, [py, abi, plat]),
            _ => return Err(err("expected 5 or 6 dash-separated parts")),
        };
        let name = PackageName::from_str(name).map_err(|e| err(&e.to_string()))?;
        let version = Version::from_str(version).map_err(|e| err(&e.to_string()))?;
        let split = |s: &str| s.split('.').map(str::to_owned).collect::<Vec<_>>();
        Ok(WheelName {
            name,
            version,
            python: split(tags[0]),
            abi: split(tags[1]),
            platform: split(tags[2]),
        })
    }
}

impl fmt::Display for WheelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}-{}-{}-{}",
            self.name.as_dist_info_name(),
            self.version,
            self.python.join("."),
            self.abi.join("."),
            self.platform.join(".")
        )
    }
}

/// Parse an sdist file name (`name-version.tar.gz` or `.zip`) into its name and version. Names
/// may contain dashes, so the version is the part after the last dash that parses as one.
pub fn parse_sdist_name(file: &str) -> Option<(PackageName, Version)> {
    let stem = file
        .strip_suffix(".tar.gz")
        .or_else(|| file.strip_suffix(".zip"))?;
    let (name, version) = stem.rsplit_once('-')?;
    Some((
        PackageName::from_str(name).ok()?,
        Version::from_str(version).ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_compressed_tag_sets_and_builds() {
        let w: WheelName = "numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
            .parse()
            .unwrap();
        assert_eq!(w.name.as_ref(), "numpy");
        assert_eq!(w.version.to_string(), "1.26.4");
        assert_eq!(w.tags().count(), 2);
        let w: WheelName = "Kat_Core-1.3.0-1-py2.py3-none-any.whl".parse().unwrap();
        assert_eq!(w.name.as_ref(), "kat-core");
        assert_eq!(w.python, ["py2", "py3"]);
        assert!("x-1.0.whl".parse::<WheelName>().is_err());
    }

    #[test]
    fn sdist_names() {
        let (name, version) = parse_sdist_name("kat-conf-server-1.0.2.tar.gz").unwrap();
        assert_eq!(
            (name.as_ref(), version.to_string().as_str()),
            ("kat-conf-server", "1.0.2")
        );
        assert!(parse_sdist_name("notes.txt").is_none());
    }
}

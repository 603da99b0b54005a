//! Wheel tags a target can install (PEP 425, PEP 600 manylinux), in order of preference.

use crate::filename::WheelName;
use crate::target::Target;

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

#[cfg(test)]
mod tests {
    use crate::target::Target;

    #[test]
    fn wheel_compatibility_is_for_the_target() {
        let t = Target::new("3.11", "x86_64-manylinux_2_36").unwrap();
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
}

//! Which tests run where: every test of a group once per node the group targets (by name or role)
//! of the deployment, filtered by tags, and cut into a stable slice with `--partition K/N`.

use anyhow::bail;
use lastmile_documents::deployment::{DeployedNode, DeploymentDocument};
use lastmile_documents::report::Partition;
use lastmile_fs::Sha256;

use crate::suite::{Group, Suite, Test};

/// One test on one node (or on the host).
#[derive(Debug, Clone, Copy)]
pub struct Instance<'a> {
    pub suite: &'a Suite,
    pub group: &'a Group,
    pub test: &'a Test,
    pub node: Option<&'a DeployedNode>,
}

impl Instance<'_> {
    /// `suite:group/test@node`: stable, what the partition hashes.
    pub fn id(&self) -> String {
        let base = format!("{}:{}/{}", self.suite.name, self.group.name, self.test.name);
        match self.node {
            Some(node) => format!("{base}@{}", node.name),
            None => base,
        }
    }
}

/// Which tests to keep.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub tags: Vec<String>,
    pub skip_tags: Vec<String>,
    /// The K-th of N slices, K from 1.
    pub partition: Option<Partition>,
}

/// The slice (0-based) a test id falls in: by its sha256, so adding a test moves no other.
pub fn slice_of(id: &str, slices: u64) -> u64 {
    let digest = Sha256::of(id);
    let first: [u8; 8] = digest.as_bytes()[..8].try_into().expect("8 bytes");
    u64::from_be_bytes(first) % slices
}

/// Every test instance the suites ask for on this deployment, in suite, group and test order.
pub fn instances<'a>(
    suites: &'a [Suite],
    deployment: &'a DeploymentDocument,
    filter: &Filter,
) -> anyhow::Result<Vec<Instance<'a>>> {
    let mut all = Vec::new();
    for suite in suites {
        for group in &suite.groups {
            let targets = targets(suite, group, deployment)?;
            for test in &group.tests {
                if !filter.tags.is_empty() && !test.tags.iter().any(|t| filter.tags.contains(t)) {
                    continue;
                }
                if test.tags.iter().any(|t| filter.skip_tags.contains(t)) {
                    continue;
                }
                for node in &targets {
                    all.push(Instance {
                        suite,
                        group,
                        test,
                        node: *node,
                    });
                }
            }
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for instance in &all {
        if !seen.insert(instance.id()) {
            bail!(
                "test {} is defined twice (two suites with the same name?)",
                instance.id()
            );
        }
    }
    if let Some(Partition { index, count }) = filter.partition {
        all.retain(|i| slice_of(&i.id(), count) == index - 1);
    }
    Ok(all)
}

fn targets<'a>(
    suite: &Suite,
    group: &Group,
    deployment: &'a DeploymentDocument,
) -> anyhow::Result<Vec<Option<&'a DeployedNode>>> {
    if group.nodes.is_empty() && group.roles.is_empty() {
        return Ok(vec![None]);
    }
    for name in &group.nodes {
        if !deployment.nodes.iter().any(|n| &n.name == name) {
            bail!(
                "{}: group {} targets node {name}, which environment {} does not have",
                suite.file,
                group.name,
                deployment.environment
            );
        }
    }
    for role in &group.roles {
        if deployment.nodes_with_role(role).next().is_none() {
            bail!(
                "{}: group {} targets role {role}, which no node of {} has",
                suite.file,
                group.name,
                deployment.environment
            );
        }
    }
    Ok(deployment
        .nodes
        .iter()
        .filter(|n| group.nodes.contains(&n.name) || n.roles.iter().any(|r| group.roles.contains(r)))
        .map(Some)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_stable_and_cover_everything_once() {
        let ids: Vec<String> = (0..300).map(|i| format!("s:g/t{i}@n")).collect();
        let mut counts = [0usize; 3];
        for id in &ids {
            counts[slice_of(id, 3) as usize] += 1;
        }
        assert_eq!(counts.iter().sum::<usize>(), 300);
        assert!(counts.iter().all(|&c| c > 60), "{counts:?}");
        // Adding a test moves no other test to another slice.
        let before: Vec<u64> = ids.iter().map(|id| slice_of(id, 3)).collect();
        let mut more = ids.clone();
        more.push("s:g/new@n".into());
        let after: Vec<u64> = more[..300].iter().map(|id| slice_of(id, 3)).collect();
        assert_eq!(before, after);
        assert_eq!("2/3".parse(), Ok(Partition { index: 2, count: 3 }));
        for bad in ["0/3", "4/3", "x", "+1/3", " 1/3", "1/0"] {
            assert!(bad.parse::<Partition>().is_err(), "{bad}");
        }
    }
}

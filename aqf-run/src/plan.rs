//! Which tests run where: every test of a group once per node the group targets (by name or role)
//! of the deployment, filtered by tags, and cut into a slice with `--partition K/N`: by each
//! test id's sha256 (stable: adding a test moves no other), or, given a history of earlier runs,
//! by their durations, longest first onto the least loaded slice, so the slices take about the
//! same time.

use std::collections::BTreeSet;

use anyhow::bail;
use lastmile_documents::candidate::CandidateDocument;
use lastmile_documents::deployment::{DeployedNode, DeploymentDocument};
use lastmile_documents::report::{Balanced, Partition};
use lastmile_fs::Sha256;

use crate::history::History;

use crate::suite::{Group, Kind, Suite, Test};

/// One test on one node (or on the host).
#[derive(Debug, Clone, Copy)]
pub struct Instance<'a> {
    pub suite: &'a Suite,
    pub group: &'a Group,
    pub test: &'a Test,
    pub node: Option<&'a DeployedNode>,
    /// One case of a `cases = true` pytest test.
    pub case: Option<&'a CollectedCase>,
}

impl Instance<'_> {
    /// `suite:group/test@node`, or `suite:group/test::file::case@node` for a pytest case:
    /// stable, what the partition hashes.
    pub fn id(&self) -> String {
        let mut base = format!("{}:{}/{}", self.suite.name, self.group.name, self.test.name);
        if let Some(case) = self.case {
            base.push_str(&format!("::{}", case.id()));
        }
        match self.node {
            Some(node) => format!("{base}@{}", node.name),
            None => base,
        }
    }
}

/// One case pytest collected of a `cases = true` test (the pytest module collects them).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectedCase {
    /// Relative to the test's root.
    pub file: String,
    /// Within the file (`test_a`, `TestX::test_b[1-2]`).
    pub name: String,
    /// What its `requirement` marks name.
    pub requirements: Vec<String>,
}

impl CollectedCase {
    /// `file::name`: what pytest is given (under the root), and the case's part of the test id.
    pub fn id(&self) -> String {
        format!("{}::{}", self.file, self.name)
    }
}

/// Which tests to keep.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub tags: Vec<String>,
    pub skip_tags: Vec<String>,
    /// The K-th of N slices, K from 1.
    pub partition: Option<Partition>,
    /// Earlier runs' durations: slices balanced by time, not cut by hash.
    pub history: Option<History>,
    /// `--affected`: only the tests touching what a change affects.
    pub affected: Option<Affected>,
}

/// What a change touches, for `--affected`: its packages, and (from the candidate's manifest)
/// the roles whose services run one of their programs.
#[derive(Debug, Clone, Default)]
pub struct Affected {
    /// depgraph's `affected`, normalised names.
    pub packages: BTreeSet<String>,
    /// Roles with a service that runs an affected package's program.
    pub roles: BTreeSet<String>,
    /// A service of every node (no roles) runs one.
    pub every_node: bool,
}

impl Affected {
    /// Fill in the roles from the candidate: a service's program (its command's first word, a
    /// console script of the venv) belongs to the package whose scripts hold it.
    pub fn with_services(mut self, manifest: &CandidateDocument) -> Self {
        for service in manifest.services.values() {
            let program = service.command.split_whitespace().next().unwrap_or_default();
            let program = program.strip_prefix("${LASTMILE_VENV}/bin/").unwrap_or(program);
            let touched = manifest.packages.iter().any(|p| {
                p.scripts.iter().any(|s| s == program) && self.packages.contains(&normalise(&p.name))
            });
            if touched {
                if service.roles.is_empty() {
                    self.every_node = true;
                }
                self.roles.extend(service.roles.iter().cloned());
            }
        }
        self
    }
}

/// A package name as PEP 503 compares them.
fn normalise(name: &str) -> String {
    name.parse::<lastmile_python::PackageName>()
        .map_or_else(|_| name.to_lowercase(), |n| n.to_string())
}

/// The requirements an instance verifies: its test's and, for a case, its marks'.
fn verifies<'a>(instance: &Instance<'a>) -> impl Iterator<Item = &'a String> {
    instance
        .test
        .verifies
        .iter()
        .chain(instance.case.into_iter().flat_map(|c| &c.requirements))
}

/// The instances a change touches: on a node with a role (or every node) whose services run an
/// affected package, or a `package` check of an affected package; and the tests on the host
/// (which have no roles to go by) that verify a requirement one of those verifies.
pub fn touching<'a>(all: Vec<Instance<'a>>, affected: &Affected) -> Vec<Instance<'a>> {
    let direct = |i: &Instance| {
        let on_node = i
            .node
            .is_some_and(|n| affected.every_node || n.roles.iter().any(|r| affected.roles.contains(r)));
        let package =
            matches!(&i.test.kind, Kind::Package(p) if affected.packages.contains(&normalise(&p.package)));
        on_node || package
    };
    let requirements: BTreeSet<&String> = all.iter().filter(|i| direct(i)).flat_map(verifies).collect();
    all.into_iter()
        .filter(|i| direct(i) || (i.node.is_none() && verifies(i).any(|r| requirements.contains(r))))
        .collect()
}

/// The tests to run, and how the slice was cut when it was balanced.
#[derive(Debug)]
pub struct Plan<'a> {
    pub instances: Vec<Instance<'a>>,
    pub balanced: Option<Balanced>,
}

/// The slice (0-based) a test id falls in: by its sha256, so adding a test moves no other.
pub fn slice_of(id: &str, slices: u64) -> u64 {
    let digest = Sha256::of(id);
    let first: [u8; 8] = digest.as_bytes()[..8].try_into().expect("8 bytes");
    u64::from_be_bytes(first) % slices
}

/// Each test's slice (0-based) of `count`, balanced by expected duration: longest first (ties by
/// id), each onto the slice with the least time so far (ties: the lowest). A test the history
/// does not know is expected to take the median of those it knows (1 s when it knows none). The
/// same ids and history give the same slices. Returns the slices, in `ids` order, and how many
/// ids the history knew.
pub fn balanced_slices(ids: &[String], history: &History, count: u64) -> (Vec<u64>, u64) {
    let known: Vec<Option<u64>> = ids.iter().map(|id| history.expected(id)).collect();
    let mut measured: Vec<u64> = known.iter().flatten().copied().collect();
    measured.sort_unstable();
    let guess = measured.get(measured.len() / 2).copied().unwrap_or(1000);
    let mut order: Vec<usize> = (0..ids.len()).collect();
    let expected = |i: usize| known[i].unwrap_or(guess);
    order.sort_by(|&a, &b| expected(b).cmp(&expected(a)).then_with(|| ids[a].cmp(&ids[b])));
    let mut loads = vec![0u64; usize::try_from(count).expect("a slice count fits")];
    let mut slices = vec![0u64; ids.len()];
    for i in order {
        let (least, _) = loads
            .iter()
            .enumerate()
            .min_by_key(|&(k, load)| (*load, k))
            .expect("at least one slice");
        loads[least] += expected(i);
        slices[i] = least as u64;
    }
    (slices, measured.len() as u64)
}

/// Every test instance the suites ask for on this deployment, in suite, group and test order,
/// cut to the slice asked for.
pub fn instances<'a>(
    suites: &'a [Suite],
    deployment: &'a DeploymentDocument,
    filter: &Filter,
) -> anyhow::Result<Plan<'a>> {
    Ok(cut(all(suites, deployment, filter)?, filter))
}

/// Every test instance the suites ask for on this deployment, filtered by tags, not yet cut.
pub fn all<'a>(
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
                        case: None,
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
    Ok(all)
}

/// Each instance of a `cases = true` pytest test as one instance per case `cases` holds for it
/// (keyed by the test's id without its node: the cases are the same on every node).
pub fn expand<'a>(
    all: Vec<Instance<'a>>,
    cases: &'a std::collections::BTreeMap<String, Vec<CollectedCase>>,
) -> Vec<Instance<'a>> {
    all.into_iter()
        .flat_map(|instance| match cases.get(&test_key(&instance)) {
            Some(collected) => collected
                .iter()
                .map(|case| Instance {
                    case: Some(case),
                    ..instance
                })
                .collect(),
            None => vec![instance],
        })
        .collect()
}

/// `suite:group/test`: what a test's collected cases are kept under.
pub fn test_key(instance: &Instance) -> String {
    format!(
        "{}:{}/{}",
        instance.suite.name, instance.group.name, instance.test.name
    )
}

/// The slice asked for: by hash, or balanced by the history.
pub fn cut<'a>(mut all: Vec<Instance<'a>>, filter: &Filter) -> Plan<'a> {
    let Some(Partition { index, count }) = filter.partition else {
        return Plan {
            instances: all,
            balanced: None,
        };
    };
    let Some(history) = &filter.history else {
        all.retain(|i| slice_of(&i.id(), count) == index - 1);
        return Plan {
            instances: all,
            balanced: None,
        };
    };
    let ids: Vec<String> = all.iter().map(Instance::id).collect();
    let (slices, known) = balanced_slices(&ids, history, count);
    let balanced = Balanced {
        plan: Balanced::plan_digest(ids.iter().zip(&slices).map(|(id, k)| (id.as_str(), k + 1))),
        known,
        reports: history.reports,
    };
    let instances = all
        .into_iter()
        .zip(slices)
        .filter(|(_, k)| *k == index - 1)
        .map(|(i, _)| i)
        .collect();
    Plan {
        instances,
        balanced: Some(balanced),
    }
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

    /// A suite of 200 tests whose durations are skewed as real ones are (a long tail: most
    /// short, a few minutes long), deterministic.
    fn skewed() -> (Vec<String>, History) {
        let mut history = History {
            reports: 3,
            ..History::default()
        };
        let ids: Vec<String> = (0..200).map(|i| format!("s:g/t{i:03}@n")).collect();
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for id in &ids {
            // xorshift: a fixed pseudo-random sequence; durations log-uniform from 50 ms to
            // 51 s (the median 1.6 s, the mean 7.4 s).
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let u = (x % 10_000) as f64 / 10_000.0;
            let ms = (50.0 * 2f64.powf(u * 10.0)) as u64;
            // Three runs each, one of them slow: the median is what counts.
            history.durations.insert(id.clone(), vec![ms, ms * 5, ms + 1]);
        }
        (ids, history)
    }

    fn slowest(ids: &[String], slices: &[u64], history: &History, count: u64) -> (u64, u64) {
        let mut loads = vec![0u64; count as usize];
        for (id, k) in ids.iter().zip(slices) {
            loads[*k as usize] += history.expected(id).unwrap();
        }
        (*loads.iter().max().unwrap(), loads.iter().sum::<u64>() / count)
    }

    #[test]
    fn balanced_slices_come_within_a_tenth_of_the_ideal_and_are_stable() {
        let (ids, history) = skewed();
        for count in [2, 3, 4, 8] {
            let (slices, known) = balanced_slices(&ids, &history, count);
            assert_eq!(known, 200);
            let (max, ideal) = slowest(&ids, &slices, &history, count);
            assert!(
                max * 100 <= ideal * 110,
                "{count} slices: the slowest takes {max} ms, the ideal is {ideal} ms"
            );
            // The order the tests come in does not matter: the same test, the same slice.
            let mut reversed = ids.clone();
            reversed.reverse();
            let (again, _) = balanced_slices(&reversed, &history, count);
            let mut back = again.clone();
            back.reverse();
            assert_eq!(slices, back, "{count} slices moved with the order");
        }
        // The hash split of the same suite, for contrast: count-balanced, not time-balanced.
        let hashed: Vec<u64> = ids.iter().map(|id| slice_of(id, 4)).collect();
        let (hash_max, ideal) = slowest(&ids, &hashed, &history, 4);
        assert!(
            hash_max * 100 > ideal * 110,
            "hash {hash_max} ms, ideal {ideal} ms"
        );
    }

    #[test]
    fn tests_the_history_lacks_are_expected_to_take_the_median() {
        let (mut ids, history) = skewed();
        ids.push("s:g/new@n".into());
        let (slices, known) = balanced_slices(&ids, &history, 4);
        assert_eq!(known, 200);
        assert_eq!(slices.len(), 201);
        // With no history at all every test weighs the same: the counts are even.
        let (slices, known) = balanced_slices(&ids, &History::default(), 4);
        assert_eq!(known, 0);
        let mut counts = [0; 4];
        for k in slices {
            counts[k as usize] += 1;
        }
        assert_eq!(counts, [51, 50, 50, 50]);
    }
}

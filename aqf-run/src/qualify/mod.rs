//! `aqf-run run`: qualify a deployed candidate, in named steps: read the inputs ([`inputs`]),
//! plan which test runs on which node ([`crate::plan`]), run them ([`crate::runner`]), assemble
//! the report ([`assemble`]) and write every output ([`outputs`]).

mod assemble;
mod inputs;
mod outputs;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::bail;
use lastmile_cli::Reporter;
use lastmile_documents::changes::Changes;
use lastmile_documents::report::ReportDocument;

use crate::context::Context;
use crate::plan::CollectedCase;
use crate::plan::Filter;

pub use inputs::Inputs;

/// What `aqf-run run` was asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    pub suites: Vec<PathBuf>,
    /// The deployment document (`-` for stdin).
    pub deployment: PathBuf,
    /// The candidate document; `None`: the manifest inside the image deployed.
    pub candidate: Option<PathBuf>,
    pub out_dir: PathBuf,
    /// Tests run at once.
    pub jobs: usize,
    pub filter: Filter,
    pub fail_fast: bool,
    pub cache_dir: Option<PathBuf>,
    /// `--compare CHANNEL` with its promotions folder: the report says what changed since the
    /// channel's head.
    pub compare: Option<(PathBuf, String)>,
}

/// Run the suites against the deployment and write every output; the report.
pub fn qualify(options: &Options, reporter: &Reporter) -> anyhow::Result<ReportDocument> {
    let inputs = Inputs::read(options)?;
    let all = crate::plan::all(&inputs.suites, &inputs.deployment, &options.filter)?;
    outputs::prepare_out_dir(&options.out_dir)?;
    let ctx = Context::new(
        &inputs.deployment,
        inputs.manifest.as_ref(),
        options.out_dir.clone(),
        options.cache_dir.clone(),
    )?;
    let cases = collect_cases(&ctx, &all, reporter)?;
    let mut all = crate::plan::expand(all, &cases);
    if let Some(affected) = &options.filter.affected {
        let Some(manifest) = inputs.manifest.as_ref() else {
            bail!("--affected: no candidate manifest, so which package each service runs is not known");
        };
        all = crate::plan::touching(all, &affected.clone().with_services(manifest));
    }
    let crate::plan::Plan { instances, balanced } = crate::plan::cut(all, &options.filter);
    // An empty slice of a suite is still a slice: its report lets `aqf-run merge` see every one.
    if instances.is_empty() && options.filter.partition.is_none() {
        if options.filter.affected.is_some() {
            bail!("--affected: no test of the suites touches the packages the change affects");
        }
        bail!("no test to run (check --tags and --skip-tags)");
    }
    let started = jiff::Timestamp::now();
    let runner = crate::runner::Options {
        jobs: options.jobs,
        fail_fast: options.fail_fast,
    };
    let runs = crate::runner::run_all(&ctx, &instances, &runner, reporter);
    lastmile_process::interrupt::check()?;
    let finished = jiff::Timestamp::now();
    let mut report = assemble::report(&inputs, options, &runs, (started, finished));
    report.selection.balanced = balanced;
    if let Some(history) = &options.filter.history {
        report.flaky = history.flaky(&report);
    }
    if let Some((promotions, channel)) = &options.compare {
        report.changes = compare(promotions, channel, &report)?;
    }
    outputs::write(&options.out_dir, &inputs, &report, &runs)?;
    Ok(report)
}

/// The cases of every `cases = true` pytest test, collected once each where it runs (its first
/// node); a case marked with a requirement the suite does not have is refused, as a `verifies`
/// typo is.
fn collect_cases(
    ctx: &Context,
    all: &[crate::plan::Instance],
    reporter: &Reporter,
) -> anyhow::Result<BTreeMap<String, Vec<CollectedCase>>> {
    let mut cases = BTreeMap::new();
    for instance in all {
        let crate::suite::Kind::Pytest(test) = &instance.test.kind else {
            continue;
        };
        let key = crate::plan::test_key(instance);
        if !test.cases || cases.contains_key(&key) {
            continue;
        }
        let bar = reporter.spinner(&format!("collecting the cases of {key}"));
        let collected = crate::pytest::collect::collect(ctx, test, instance.node, instance.test.timeout);
        bar.finish_and_clear();
        let collected = collected.map_err(|e| anyhow::anyhow!("{}: {key}: {}", instance.suite.file, e.0))?;
        let requirements = &instance.suite.requirements;
        if let Some((case, id)) = collected.iter().find_map(|c| {
            c.requirements
                .iter()
                .find(|id| !requirements.is_empty() && !requirements.contains_key(*id))
                .map(|id| (c, id))
        }) {
            bail!(
                "{}: {key}: case {} is marked with requirement {id:?}, which is not one of [requirements]",
                instance.suite.file,
                case.id()
            );
        }
        cases.insert(key, collected);
    }
    Ok(cases)
}

/// What changed since the head of `channel`; `None` when nothing was promoted yet or the channel
/// keeps no report of its head.
fn compare(promotions: &Path, channel: &str, report: &ReportDocument) -> anyhow::Result<Option<Changes>> {
    let channel = crate::promote::channel::Channel::new(promotions, channel)?;
    let Some(head) = channel.entries()?.pop() else {
        tracing::info!(
            "--compare {}: nothing promoted yet, nothing to compare with",
            channel.name
        );
        return Ok(None);
    };
    Ok(crate::promote::since_head(&channel, &head, report))
}

//! `aqf-run run`: qualify a deployed candidate, in named steps: read the inputs ([`inputs`]),
//! plan which test runs on which node ([`crate::plan`]), run them ([`crate::runner`]), assemble
//! the report ([`assemble`]) and write every output ([`outputs`]).

mod assemble;
mod inputs;
mod outputs;

use std::path::{Path, PathBuf};

use anyhow::bail;
use lastmile_cli::Reporter;
use lastmile_documents::changes::Changes;
use lastmile_documents::report::ReportDocument;

use crate::context::Context;
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
    let crate::plan::Plan { instances, balanced } =
        crate::plan::instances(&inputs.suites, &inputs.deployment, &options.filter)?;
    // An empty slice of a suite is still a slice: its report lets `aqf-run merge` see every one.
    if instances.is_empty() && options.filter.partition.is_none() {
        bail!("no test to run (check --tags and --skip-tags)");
    }
    outputs::prepare_out_dir(&options.out_dir)?;
    let ctx = Context::new(
        &inputs.deployment,
        inputs.manifest.as_ref(),
        options.out_dir.clone(),
        options.cache_dir.clone(),
    )?;
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

//! Command-line interface of `aqf-run`; clap stops here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const EXAMPLES: &str = "\
Examples:
  aqf-run run --deployment deployment.json examples/cam/acceptance.toml --out-dir aqf-report
  aqf-run run --deployment deployment.json suite.toml --partition 2/3 --jobs 4 --tags smoke
  aqf-run merge slice-1/report.json slice-2/report.json slice-3/report.json -o report.json
  aqf-run promote aqf-report/report.json --deployment deployment.json --channel stable
  aqf-run promote report.json --deployment deployment.json --expect-current 3fa9c2d17b04
  aqf-run promote lab/report.json staging/report.json \\
      --deployment lab/deployment.json --deployment staging/deployment.json
  aqf-run run --deployment deployment.json acceptance.toml --compare stable --promotions promotions
  aqf-run channel stable

run writes into --out-dir (emptied first): junit.xml (for Jenkins), report.json
(lastmile.report/v1, also on stdout), report.md and report.html, pytest/ (pytest's own XML).
promote moves a channel only for reports of the whole suite (every test run, every required
one passed) on the deployments given, each running the candidate with the configuration the
report qualified, which every node confirms now, with the image re-hashed. The head is the pair:
a change of configuration alone is promoted too, and the log says what moved (candidate,
configuration). promotions/CHANNEL/ holds log.jsonl (the truth), head, attestations/ and the
reports/ that qualified each promotion (what --compare and promote compare with).

Exit codes: 0 every required test passed (or promoted), 1 a required test failed (or the
promotion was refused, with the reason), 2 the run itself could not happen, 130 interrupted.";

/// Qualify a deployed release candidate: acceptance suites against the real nodes, in parallel,
/// with retries and time limits; JUnit XML for Jenkins, a report for people; promote only the
/// digest that passed.
#[derive(Debug, Parser)]
#[command(name = "aqf-run", version = lastmile_cli::VERSION, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub global: lastmile_cli::GlobalArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run acceptance suites against the nodes of a deployment.
    Run(RunArgs),
    /// The reports of every --partition of one run as one report of the whole suite.
    Merge(MergeArgs),
    /// Make a qualified candidate a channel's head, by digest.
    Promote(PromoteArgs),
    /// A channel's head (its digest), or its whole log.
    Channel(ChannelArgs),
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The report.json of each partition, 1/N to N/N.
    #[arg(value_name = "REPORT", required = true)]
    pub reports: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ChannelArgs {
    /// The channel (`stable`).
    #[arg(value_name = "CHANNEL", default_value = "stable")]
    pub channel: String,
    /// Print every promotion (lastmile.promotion/v2, a line each; an older log's v1 lines as
    /// the candidate moving), oldest first.
    #[arg(long)]
    pub log: bool,
    /// Where the channels live.
    #[arg(long, value_name = "DIR", default_value = "promotions")]
    pub promotions: PathBuf,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Suite files (TOML).
    #[arg(value_name = "SUITE", required = true)]
    pub suites: Vec<PathBuf>,
    /// deploy-lxc's lastmile.deployment/v1 document (- for stdin).
    #[arg(long, value_name = "FILE")]
    pub deployment: PathBuf,
    /// The candidate document (lastmile.candidate/v1); default: the manifest inside the image
    /// the deployment names.
    #[arg(long, value_name = "FILE")]
    pub candidate: Option<PathBuf>,
    /// Where the reports go; emptied first (only if aqf-run made it).
    #[arg(long, value_name = "DIR", default_value = "aqf-report")]
    pub out_dir: PathBuf,
    /// Tests run at once (default: the number of cores).
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Run only slice K of N (stable: adding a test does not move the others).
    #[arg(long, value_name = "K/N")]
    pub partition: Option<lastmile_documents::report::Partition>,
    /// Earlier runs' report.json files (a file, or a folder searched for them; repeatable): the
    /// report lists the tests they and this run show flaky, and with --partition the slices are
    /// balanced by the tests' durations, longest first onto the least loaded slice (every slice
    /// of one run must be given the same history).
    #[arg(long, value_name = "PATH")]
    pub history: Vec<PathBuf>,
    /// depgraph affected's document (lastmile.affected/v1): run only the tests that touch its
    /// packages (on nodes whose roles' services run one, package checks of one) and the tests
    /// verifying the same requirements. A quick check before merge: such a run never promotes.
    #[arg(long, value_name = "FILE")]
    pub affected: Option<PathBuf>,
    /// Run only tests with one of these tags (repeatable, or comma-separated).
    #[arg(long, value_name = "TAG", value_delimiter = ',')]
    pub tags: Vec<String>,
    /// Leave out tests with one of these tags.
    #[arg(long, value_name = "TAG", value_delimiter = ',')]
    pub skip_tags: Vec<String>,
    /// After a required test fails, start no other.
    #[arg(long)]
    pub fail_fast: bool,
    /// Where the suites' pytest venvs are cached (default: LASTMILE_CACHE_DIR, else
    /// ~/.cache/lastmile). Owned by this user and writable by nobody else, or refused.
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Compare the candidate with the head of this channel (Python and OS packages, sources,
    /// configuration) in the reports: what a person promoting it reads.
    #[arg(long, value_name = "CHANNEL")]
    pub compare: Option<String>,
    /// With --compare: where the channels live.
    #[arg(long, value_name = "DIR", default_value = "promotions", requires = "compare")]
    pub promotions: PathBuf,
}

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// The report of `aqf-run run` (report.json): one per environment the candidate was
    /// qualified on (a lab and a staging layout: both, or it is not promoted).
    #[arg(value_name = "REPORT", required = true)]
    pub reports: Vec<PathBuf>,
    #[arg(long, default_value = "stable")]
    pub channel: String,
    /// Refuse unless the channel's head is this digest (or `none`) now.
    #[arg(long, value_name = "DIGEST")]
    pub expect_current: Option<String>,
    /// The deployment each report was qualified on (deploy-lxc's document; repeatable, one per
    /// report): it must be the report's, run the candidate with the configuration qualified,
    /// and its nodes must say so now. Required.
    #[arg(long, value_name = "FILE")]
    pub deployment: Vec<PathBuf>,
    /// Where the channels live (a folder each: log.jsonl, head, attestations/).
    #[arg(long, value_name = "DIR", default_value = "promotions")]
    pub promotions: PathBuf,
}

impl RunArgs {
    /// The command line as the qualification's options; the clap types stop here.
    pub fn into_options(self) -> anyhow::Result<crate::qualify::Options> {
        Ok(crate::qualify::Options {
            suites: self.suites,
            deployment: self.deployment,
            candidate: self.candidate,
            out_dir: self.out_dir,
            jobs: self
                .jobs
                .filter(|&n| n > 0)
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
            filter: crate::plan::Filter {
                tags: self.tags,
                skip_tags: self.skip_tags,
                partition: self.partition,
                history: if self.history.is_empty() {
                    None
                } else {
                    Some(crate::history::History::read(&self.history)?)
                },
                affected: self.affected.as_deref().map(read_affected).transpose()?,
            },
            fail_fast: self.fail_fast,
            cache_dir: self.cache_dir.or_else(|| default_cache().ok()),
            compare: self.compare.map(|channel| (self.promotions, channel)),
        })
    }
}

impl PromoteArgs {
    pub fn into_options(self) -> crate::promote::Options {
        crate::promote::Options {
            reports: self.reports,
            channel: self.channel,
            expect_current: self.expect_current,
            dir: self.promotions,
            deployments: self.deployment,
        }
    }
}

/// The shared cache root ([`lastmile_fs::cache_root`]); checked when a venv is made or used.
fn default_cache() -> Result<PathBuf, lastmile_fs::CacheError> {
    lastmile_fs::cache_root()
}

/// The packages of depgraph affected's document.
fn read_affected(path: &std::path::Path) -> anyhow::Result<crate::plan::Affected> {
    use lastmile_documents::Document;
    let shown = path.display().to_string();
    let text = lastmile_fs::read_text(path).map_err(|e| anyhow::anyhow!("--affected {shown}: {e}"))?;
    let doc = lastmile_documents::affected::AffectedDocument::from_json(&text, &shown)?;
    Ok(crate::plan::Affected {
        packages: doc.affected.iter().map(ToString::to_string).collect(),
        ..crate::plan::Affected::default()
    })
}

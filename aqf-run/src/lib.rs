//! `aqf-run`: acceptance tests against a deployed candidate, and promotion by digest.
//!
//! Where to start: [`qualify`] reads the deployment and the suites ([`suite`]), plans which test
//! runs on which node ([`plan`]), runs them ([`runner`], one attempt in [`checks`] or
//! [`pytest`]) and writes the outputs ([`junit`], [`report`]); [`promote`] makes a passed
//! candidate a channel's head. [`run`] is the command line's thin shell over them.

pub mod checks;
pub mod cli;
pub mod junit;
pub mod plan;
pub mod promote;
pub mod pytest;
pub mod report;
pub mod runner;
pub mod suite;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use lastmile_cli::{Exit, Negative, Reporter};
use lastmile_documents::Document;
use lastmile_documents::candidate::CandidateDocument;
use lastmile_documents::deployment::DeploymentDocument;
use lastmile_documents::report::{QualifiedCandidate, QualifiedPackage, ReportDocument, SuiteFile};

use crate::cli::{Cli, Command, RunArgs};

/// Run `aqf-run` from its command line.
pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    lastmile_cli::logging::init("aqf-run", &cli.global);
    lastmile_process::interrupt::install("aqf-run");
    let output = cli.global.output.as_deref();
    match cli.command {
        Command::Run(args) => {
            let reporter = Reporter::new("aqf-run", &cli.global);
            let report = qualify(&args, &reporter)?;
            lastmile_cli::emit(output, report.to_json().as_bytes())?;
            if !cli.global.quiet {
                summary(&report, &args.out_dir);
            }
            if report.passed {
                Ok(Exit::Success)
            } else {
                let failed = report
                    .tests
                    .iter()
                    .filter(|t| t.required && !t.outcome.acceptable())
                    .count();
                Err(Negative(format!(
                    "{failed} required tests did not pass: candidate {} is not qualified",
                    report.candidate.digest.short(12)
                ))
                .into())
            }
        }
        Command::Promote(args) => {
            let entry = promote::promote(&promote::Options {
                report: args.report,
                channel: args.channel,
                expect_current: args.expect_current,
                dir: args.promotions,
                deployment: args.deployment,
            })?;
            lastmile_cli::emit(output, lastmile_documents::to_string(&entry).as_bytes())?;
            if !cli.global.quiet {
                let _ = writeln!(
                    std::io::stderr(),
                    "aqf-run: {} is now the head of {} (previous: {})",
                    entry["digest"].as_str().unwrap_or(""),
                    entry["channel"].as_str().unwrap_or(""),
                    entry["previous"].as_str().unwrap_or("none")
                );
            }
            Ok(Exit::Success)
        }
    }
}

/// Run the suites against the deployment and write every output; the report.
pub fn qualify(args: &RunArgs, reporter: &Reporter) -> anyhow::Result<ReportDocument> {
    let (text, source) = lastmile_cli::input::read_path_or_stdin(&args.deployment)
        .with_context(|| format!("reading {}", args.deployment.display()))?;
    let deployment = DeploymentDocument::from_json(&text, &source)?;
    let Some(deployed) = deployment.candidate.clone() else {
        bail!(
            "{source}: environment {} runs no candidate",
            deployment.environment
        );
    };
    let suites = args
        .suites
        .iter()
        .map(|p| suite::load(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let manifest = manifest(args, &deployment)?;
    if let Some(info) = manifest.as_ref().and_then(|m| m.image.as_ref())
        && info.sha256 != deployed.digest
    {
        bail!(
            "the candidate document describes {}, but {} runs {}",
            info.sha256.short(12),
            deployment.environment,
            deployed.digest.short(12)
        );
    }
    let filter = plan::Filter {
        tags: args.tags.clone(),
        skip_tags: args.skip_tags.clone(),
        partition: args.partition.as_deref().map(plan::parse_partition).transpose()?,
    };
    let instances = plan::instances(&suites, &deployment, &filter)?;
    if instances.is_empty() {
        bail!("no test to run (check --tags, --skip-tags and --partition)");
    }
    prepare_out_dir(&args.out_dir)?;
    let cache_dir = args.cache_dir.clone().unwrap_or_else(default_cache);
    let ctx = checks::Context {
        deployment: &deployment,
        manifest: manifest.as_ref(),
        out_dir: args.out_dir.clone(),
        cache_dir,
    };
    let jobs = args
        .jobs
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let started = jiff::Timestamp::now();
    let runs = runner::run_all(
        &ctx,
        &instances,
        &runner::Options {
            jobs,
            fail_fast: args.fail_fast,
        },
        reporter,
    );
    lastmile_process::interrupt::check()?;
    let finished = jiff::Timestamp::now();

    let tests: Vec<_> = runs.iter().map(|r| r.result.clone()).collect();
    let mut titles = BTreeMap::new();
    for suite in &suites {
        titles.extend(suite.requirements.clone());
    }
    let passed = tests.iter().all(|t| !t.required || t.outcome.acceptable());
    let report = ReportDocument {
        schema: lastmile_documents::report::SCHEMA.to_owned(),
        passed,
        candidate: QualifiedCandidate {
            digest: deployed.digest,
            image: deployed.image.clone(),
            source_commits: deployed.source_commits.clone(),
            base: manifest.as_ref().map(|m| m.base.digest),
            packages: manifest
                .as_ref()
                .map(|m| {
                    m.packages
                        .iter()
                        .map(|p| QualifiedPackage {
                            name: p.name.clone(),
                            version: p.version.clone(),
                            sha256: p.sha256,
                        })
                        .collect()
                })
                .unwrap_or_default(),
        },
        environment: deployment.environment.clone(),
        generation: deployment.generation.unwrap_or(1),
        suites: suites
            .iter()
            .map(|s| SuiteFile {
                file: s.file.clone(),
                sha256: s.sha256,
            })
            .collect(),
        partition: args.partition.clone(),
        started: started.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        finished: finished.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        counts: report::counts(&tests),
        requirements: report::requirements(&titles, &tests),
        tests,
    };
    let names: BTreeMap<String, String> = suites.iter().map(|s| (s.file.clone(), s.name.clone())).collect();
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap_or_default()
        .trim()
        .to_owned();
    let out = &args.out_dir;
    let write = |name: &str, bytes: &[u8]| {
        lastmile_fs::write_atomic(&out.join(name), bytes)
            .with_context(|| format!("writing {}", out.join(name).display()))
    };
    write(
        "junit.xml",
        junit::write(&report, &runs, &hostname, &names).as_bytes(),
    )?;
    write("report.json", report.to_json().as_bytes())?;
    write("report.md", report::markdown(&report).as_bytes())?;
    write("report.html", report::html(&report).as_bytes())?;
    Ok(report)
}

/// The candidate's manifest: `--candidate`, else `/etc/lastmile/candidate.json` inside a node.
fn manifest(args: &RunArgs, deployment: &DeploymentDocument) -> anyhow::Result<Option<CandidateDocument>> {
    if let Some(path) = &args.candidate {
        let shown = path.display().to_string();
        return Ok(Some(CandidateDocument::from_json(
            &lastmile_fs::read_text(path)?,
            &shown,
        )?));
    }
    for node in &deployment.nodes {
        let Ok(ran) = lastmile_probe::exec(
            &node.exec,
            &["cat", "/etc/lastmile/candidate.json"],
            None,
            Duration::from_secs(20),
        ) else {
            continue;
        };
        if ran.code == Some(0) {
            let shown = format!("{}:/etc/lastmile/candidate.json", node.name);
            return Ok(Some(CandidateDocument::from_json(&ran.stdout, &shown)?));
        }
    }
    tracing::warn!(
        "no candidate manifest (give --candidate): package versions cannot be checked against the pins"
    );
    Ok(None)
}

/// The output folder, emptied: only one aqf-run made (it holds `.aqf-run`), or an empty one.
fn prepare_out_dir(dir: &Path) -> anyhow::Result<()> {
    let marker = dir.join(".aqf-run");
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() && !marker.exists() {
                bail!(
                    "--out-dir {}: not empty and not made by aqf-run; refusing to empty it",
                    dir.display()
                );
            }
            std::fs::remove_dir_all(dir).with_context(|| format!("emptying {}", dir.display()))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("--out-dir {}", dir.display())),
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(&marker, b"made by aqf-run; emptied at the start of every run\n")?;
    Ok(())
}

fn default_cache() -> PathBuf {
    if let Some(dir) = std::env::var_os("LASTMILE_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    home.join(".cache/lastmile")
}

/// A table on stderr: the tests that did not simply pass, and the totals.
fn summary(report: &ReportDocument, out_dir: &Path) {
    let mut err = std::io::stderr().lock();
    for test in report
        .tests
        .iter()
        .filter(|t| t.outcome != lastmile_documents::report::Outcome::Passed)
    {
        let message = test.attempts.last().map(|a| a.message.as_str()).unwrap_or("");
        let _ = writeln!(
            err,
            "  {:<10} {:<48} {:>6.1} s  {}",
            test.outcome.word(),
            test.id,
            test.duration_ms as f64 / 1000.0,
            message.lines().next().unwrap_or("")
        );
    }
    let counts: Vec<String> = report
        .counts
        .iter()
        .filter(|(k, _)| *k != "total")
        .map(|(k, v)| format!("{v} {k}"))
        .collect();
    let _ = writeln!(
        err,
        "aqf-run: candidate {} on {}: {} ({}); reports in {}",
        report.candidate.digest.short(12),
        report.environment,
        if report.passed { "PASSED" } else { "FAILED" },
        counts.join(", "),
        out_dir.display()
    );
}

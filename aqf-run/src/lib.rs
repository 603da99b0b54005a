//! `aqf-run`: acceptance tests against a deployed candidate, and promotion by digest.
//!
//! Where to start: [`qualify`] runs a qualification in named steps (inputs, [`plan`], [`runner`],
//! the report, the outputs; [`merge`] joins partitions); one attempt of a test is [`attempt`], which hands it to
//! [`command`], [`pytest`] or a [`builtin`] check of a node, over [`context`]; [`suite`] reads
//! the suite files, [`junit`] and [`report`] write the outputs; [`promote`] makes a passed
//! candidate a channel's head. [`run`] is the command line's thin shell over them.

pub mod attempt;
pub mod builtin;
pub mod cli;
pub mod command;
pub mod context;
pub mod history;
pub mod junit;
pub mod merge;
pub mod plan;
pub mod promote;
pub mod pytest;
pub mod qualify;
pub mod report;
pub mod runner;
pub mod suite;

use std::io::Write;
use std::path::Path;

use lastmile_cli::{Exit, Negative, Reporter};
use lastmile_documents::Document;
use lastmile_documents::report::{Outcome, ReportDocument};

use crate::cli::{Cli, Command};

/// Run `aqf-run` from its command line.
pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    lastmile_cli::logging::init("aqf-run", &cli.global);
    lastmile_process::interrupt::install("aqf-run");
    let output = cli.global.output.as_deref();
    match cli.command {
        Command::Run(args) => {
            let reporter = Reporter::new("aqf-run", &cli.global);
            let options = args.into_options()?;
            let report = qualify::qualify(&options, &reporter)?;
            lastmile_cli::emit(output, report.to_json().as_bytes())?;
            if !cli.global.quiet {
                summary(&report, &options.out_dir);
            }
            verdict(&report)
        }
        Command::Merge(args) => {
            let report = merge::merge(&args.reports)?;
            lastmile_cli::emit(output, report.to_json().as_bytes())?;
            Ok(Exit::Success)
        }
        Command::Channel(args) => channel(&args, output),
        Command::Promote(args) => {
            let promoted = promote::promote(&args.into_options())?;
            lastmile_cli::emit(output, promoted.entry.to_json().as_bytes())?;
            if !cli.global.quiet {
                promoted_summary(&promoted);
            }
            Ok(Exit::Success)
        }
    }
}

/// What a promotion did, on stderr: the head, what moved, and what changed since the head before.
fn promoted_summary(promoted: &promote::Promoted) {
    let mut err = std::io::stderr().lock();
    let entry = &promoted.entry;
    let configurations: Vec<String> = entry
        .qualified
        .iter()
        .map(|q| {
            format!(
                "{} {}",
                q.environment,
                q.configuration
                    .map_or_else(|| "(none recorded)".to_owned(), |c| c.short(12))
            )
        })
        .collect();
    if !promoted.moved {
        let _ = writeln!(
            err,
            "aqf-run: {} with configuration {} already is the head of {}: nothing moved",
            entry.digest,
            configurations.join(", "),
            entry.channel
        );
        return;
    }
    let moved: Vec<&str> = entry.moved.iter().map(|m| m.word()).collect();
    let _ = writeln!(
        err,
        "aqf-run: {} is now the head of {} (previous: {}), configuration {}; moved: {}",
        entry.digest,
        entry.channel,
        entry
            .previous
            .map_or_else(|| "none".to_owned(), |p| p.to_string()),
        configurations.join(", "),
        moved.join(" and ")
    );
    if let Some(changes) = &promoted.changes {
        for line in changes.summary() {
            let _ = writeln!(err, "  {line}");
        }
    }
}

/// `aqf-run channel`: the head's digest (exit 1 when nothing was promoted yet), or the log.
fn channel(args: &cli::ChannelArgs, output: Option<&Path>) -> anyhow::Result<Exit> {
    let channel = promote::channel::Channel::new(&args.promotions, &args.channel)?;
    let entries = if channel.dir.is_dir() {
        // Under the lock, so `head` is repaired if a crash left it behind the log.
        let _locked = channel.lock()?;
        channel.entries()?
    } else {
        Vec::new()
    };
    if args.log {
        let lines: String = entries
            .iter()
            .map(|e| format!("{}\n", serde_json::to_string(e).expect("an entry serializes")))
            .collect();
        lastmile_cli::emit(output, lines.as_bytes())?;
        return Ok(Exit::Success);
    }
    let Some(head) = entries.last() else {
        return Err(Negative(format!("channel {}: nothing promoted yet", channel.name)).into());
    };
    lastmile_cli::emit(output, format!("{}\n", head.digest).as_bytes())?;
    Ok(Exit::Success)
}

/// Exit 0 when every required test passed, else the negative answer with how many did not.
fn verdict(report: &ReportDocument) -> anyhow::Result<Exit> {
    if report.passed {
        return Ok(Exit::Success);
    }
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

/// A table on stderr: the tests that did not simply pass, and the totals.
fn summary(report: &ReportDocument, out_dir: &Path) {
    let mut err = std::io::stderr().lock();
    for test in report.tests.iter().filter(|t| t.outcome != Outcome::Passed) {
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

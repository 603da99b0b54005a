//! Running the planned tests: `--jobs` at once, each attempt within its time limit, a failed test
//! tried again up to its `retries` (and then reported as flaky if it passed, never as a plain
//! pass), `--fail-fast` skipping what has not started after a required test failed.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use lastmile_documents::report::{Attempt, Outcome, TestResult};

use crate::attempt::attempt;
use crate::context::{Case, Context, Tried};
use crate::plan::Instance;

/// A test's result with pytest's own cases of its last attempt (for the JUnit report).
pub struct Ran {
    pub result: TestResult,
    pub cases: Vec<Case>,
}

pub struct Options {
    pub jobs: usize,
    pub fail_fast: bool,
}

/// Run every instance; the results come back in the order of `instances`.
pub fn run_all(
    ctx: &Context,
    instances: &[Instance],
    options: &Options,
    reporter: &lastmile_cli::Reporter,
) -> Vec<Ran> {
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let results: Mutex<Vec<Option<Ran>>> = Mutex::new((0..instances.len()).map(|_| None).collect());
    let bar = reporter.items("testing", instances.len() as u64);
    let failed = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..options.jobs.max(1).min(instances.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    let Some(instance) = instances.get(index) else {
                        break;
                    };
                    let ran = if stop.load(Ordering::SeqCst) || lastmile_process::interrupt::interrupted() {
                        skipped(instance)
                    } else {
                        bar.set_message(instance.id());
                        run_one(ctx, instance)
                    };
                    if !ran.result.outcome.acceptable() && ran.result.outcome != Outcome::Skipped {
                        failed.fetch_add(1, Ordering::SeqCst);
                        if options.fail_fast && instance.test.required {
                            stop.store(true, Ordering::SeqCst);
                        }
                    }
                    bar.inc(1);
                    results.lock().expect("no thread panics holding it")[index] = Some(ran);
                }
            });
        }
    });
    bar.finish_and_clear();
    results
        .into_inner()
        .expect("no thread panics holding it")
        .into_iter()
        .map(|r| r.expect("every test ran or was skipped"))
        .collect()
}

fn run_one(ctx: &Context, instance: &Instance) -> Ran {
    let started = Instant::now();
    let mut attempts = Vec::new();
    let mut last: Option<Tried> = None;
    for _ in 0..=instance.test.retries {
        let tried = attempt(ctx, instance);
        attempts.push(Attempt {
            outcome: tried.outcome,
            duration_ms: tried.duration.as_millis() as u64,
            message: tried.message.clone(),
            stdout: tried.stdout.clone(),
            stderr: tried.stderr.clone(),
        });
        let passed = tried.outcome == Outcome::Passed;
        last = Some(tried);
        if passed || lastmile_process::interrupt::interrupted() {
            break;
        }
    }
    let last = last.expect("at least one attempt");
    let outcome = match last.outcome {
        Outcome::Passed if attempts.len() > 1 => Outcome::Flaky,
        other => other,
    };
    Ran {
        result: result(instance, outcome, started.elapsed().as_millis() as u64, attempts),
        cases: last.cases,
    }
}

fn skipped(instance: &Instance) -> Ran {
    let attempt = Attempt {
        outcome: Outcome::Skipped,
        duration_ms: 0,
        message: "not run: --fail-fast after a required test failed".to_owned(),
        stdout: String::new(),
        stderr: String::new(),
    };
    Ran {
        result: result(instance, Outcome::Skipped, 0, vec![attempt]),
        cases: Vec::new(),
    }
}

fn result(instance: &Instance, outcome: Outcome, duration_ms: u64, attempts: Vec<Attempt>) -> TestResult {
    TestResult {
        id: instance.id(),
        group: instance.group.name.clone(),
        name: match instance.case {
            Some(case) => format!("{}::{}", instance.test.name, case.id()),
            None => instance.test.name.clone(),
        },
        node: instance.node.map(|n| n.name.clone()),
        kind: instance.test.kind.word().to_owned(),
        required: instance.test.required,
        tags: instance.test.tags.clone(),
        verifies: {
            let mut verifies = instance.test.verifies.clone();
            for id in instance.case.iter().flat_map(|c| &c.requirements) {
                if !verifies.contains(id) {
                    verifies.push(id.clone());
                }
            }
            verifies
        },
        outcome,
        duration_ms,
        attempts,
        quarantined: instance.test.quarantined.clone(),
    }
}

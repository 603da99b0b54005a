//! `kind = "pytest"`: on the host in the suite's own venv ([`venv`]), or inside a node with the
//! node's Python; pytest's own JUnit XML is collected and its test cases reported ([`junit`]).
//! With `cases = true` each case pytest collects ([`collect`]) is a test of its own, and an
//! attempt runs that case alone. aqf-run's plugin (`aqf_run_cases`, on `PYTHONPATH`) is always
//! loaded: it registers the `requirement` marker and, when asked, writes what was collected.

pub mod collect;
mod junit;
mod venv;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use lastmile_documents::deployment::DeployedNode;
use lastmile_documents::report::Outcome;
use lastmile_probe::Ran;

use crate::context::{CaseOutcome, Context, NotRun, Tried, clip};
use crate::plan::Instance;
use crate::suite::{On, PytestTest};

pub use junit::parse_junit;

/// One attempt of a pytest test.
pub fn run(
    ctx: &Context,
    instance: &Instance,
    test: &PytestTest,
    node: Option<&DeployedNode>,
    started: Instant,
) -> Tried {
    let junit = ctx.out_dir.join("pytest").join(junit_name(&instance.id()));
    let limit = instance.test.timeout;
    let case = instance.case.map(crate::plan::CollectedCase::id);
    let ran = match (test.on, node) {
        (On::Host, node) => on_host(ctx, test, node, case.as_deref(), &junit, limit),
        (On::Node, None) => Err(NotRun("on = \"node\" in a group that targets no node".into())),
        (On::Node, Some(node)) => in_node(ctx, test, node, case.as_deref(), &junit, limit),
    };
    match ran {
        Ok(ran) => outcome(&ran, &junit, started),
        Err(e) => Tried::new(Outcome::Error, e.0, started),
    }
}

/// pytest's options: the test path, quiet, no cache, aqf-run's plugin, the JUnit file (or
/// `--collect-only`), markers, the suite's args.
fn arguments(test: &PytestTest, path: &str, junit: Option<&str>) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "-m".into(),
        "pytest".into(),
        path.to_owned(),
        "-q".into(),
        "-p".into(),
        "no:cacheprovider".into(),
        "-p".into(),
        collect::PLUGIN_MODULE.into(),
        match junit {
            Some(junit) => format!("--junitxml={junit}"),
            None => "--collect-only".into(),
        },
    ];
    if let Some(markers) = &test.markers {
        args.extend(["-m".into(), markers.clone()]);
    }
    args.extend(test.args.iter().cloned());
    args
}

fn on_host(
    ctx: &Context,
    test: &PytestTest,
    node: Option<&DeployedNode>,
    case: Option<&str>,
    junit: &Path,
    limit: Duration,
) -> Result<Ran, NotRun> {
    std::fs::create_dir_all(junit.parent().expect("a folder"))
        .map_err(|e| NotRun(format!("creating {}: {e}", junit.display())))?;
    let path = match case {
        Some(case) => format!("{}/{case}", collect::host_root(test).display()),
        None => test.path.display().to_string(),
    };
    let mut command = host_python(ctx, test)?;
    command
        .args(arguments(test, &path, Some(&junit.display().to_string())))
        .envs(ctx.variables(node));
    Ok(lastmile_probe::run(&mut command, None, limit)?)
}

/// The suite's Python on the host (its venv, or python3), with aqf-run's plugin on its path.
fn host_python(ctx: &Context, test: &PytestTest) -> Result<Command, NotRun> {
    let python = match &test.requirements {
        Some(requirements) => venv::venv(ctx.cache_dir.as_deref(), requirements)?.join("bin/python"),
        None => PathBuf::from("python3"),
    };
    let mut command = Command::new(python);
    command
        .env("PYTHONPATH", collect::plugin_dir(ctx)?)
        .env("PYTHONDONTWRITEBYTECODE", "1");
    Ok(command)
}

/// Inside a node, with the candidate's own Python and packages (its venv, from the manifest):
/// the test file or folder, and the suite's pinned test tools when it names them (their
/// site-packages, on `PYTHONPATH`), go in as one tar stream into a folder of the attempt's own.
fn in_node(
    ctx: &Context,
    test: &PytestTest,
    node: &DeployedNode,
    case: Option<&str>,
    junit: &Path,
    limit: Duration,
) -> Result<Ran, NotRun> {
    let (ran, xml) = in_node_with(ctx, test, node, limit, |dir, inside| {
        let path = match case {
            Some(case) => format!("{dir}/tests/{case}"),
            None => format!("{dir}/{inside}"),
        };
        (
            arguments(test, &path, Some(&format!("{dir}/junit.xml"))),
            Vec::new(),
            format!("{dir}/junit.xml"),
        )
    })?;
    // No report when pytest never started (no pytest in the candidate, say): that is said from
    // pytest's own output, not read as zero tests.
    std::fs::create_dir_all(junit.parent().expect("a folder"))
        .and_then(|()| std::fs::write(junit, xml.unwrap_or_default()))
        .map_err(|e| NotRun(format!("writing {}: {e}", junit.display())))?;
    Ok(ran)
}

/// Send the tests (with the suite's tools and aqf-run's plugin) into a folder of the node's own,
/// run the candidate's Python there with the arguments and variables `command` gives for that
/// folder, read back the file it names, and remove the folder. The run, and the file (`None`
/// when it was not written).
fn in_node_with(
    ctx: &Context,
    test: &PytestTest,
    node: &DeployedNode,
    limit: Duration,
    command: impl FnOnce(&str, &str) -> (Vec<String>, Vec<String>, String),
) -> Result<(Ran, Option<String>), NotRun> {
    let manifest = ctx.manifest.ok_or_else(|| {
        NotRun("no candidate manifest, so the candidate's Python inside the node is not known".into())
    })?;
    let python = format!("{}/bin/python", manifest.prefix);
    let site = match &test.requirements {
        Some(requirements) => Some(venv::site_packages(&venv::venv(
            ctx.cache_dir.as_deref(),
            requirements,
        )?)?),
        None => None,
    };
    let (bundle, inside) = bundle(&test.path, site.as_deref())?;
    let probe = ctx.node(node);
    // A folder of its own for each attempt (tests run at once, on the same node too); every
    // path is an argument, never part of a shell's text.
    let made = probe.exec(&["sh", "-c", MAKE_DIR], Some(&bundle), Duration::from_secs(60))?;
    let dir = made.stdout.trim();
    if made.code != Some(0) || !dir.starts_with(NODE_DIR_PREFIX) || dir.contains('\n') {
        return Err(NotRun(format!(
            "copying {} into {}: {}",
            test.path.display(),
            node.name,
            made.stderr.trim()
        )));
    }
    let (args, variables, read) = command(dir, &inside);
    let mut path = format!("PYTHONPATH={dir}/plugin");
    if site.is_some() {
        path.push_str(&format!(":{dir}/site"));
    }
    let mut argv: Vec<&str> = vec!["env", path.as_str()];
    argv.extend(variables.iter().map(String::as_str));
    argv.push(&python);
    argv.extend(args.iter().map(String::as_str));
    let ran = probe.exec(&argv, None, limit);
    let file = probe.exec(&["cat", "--", &read], None, Duration::from_secs(30));
    let _ = probe.exec(&["rm", "-rf", "--", dir], None, Duration::from_secs(30));
    let ran = ran?;
    let file = file.ok().filter(|x| x.code == Some(0)).map(|x| x.stdout);
    Ok((ran, file))
}

/// The most a test folder (with its tools) may hold to be sent into a node.
const BUNDLE_LIMIT: u64 = 256 << 20;

/// A tar stream of the tests under `tests/` (a file keeps its name) and the tools under `site/`,
/// and the path of the tests inside it.
fn bundle(tests: &Path, site: Option<&Path>) -> Result<(Vec<u8>, String), NotRun> {
    let fail = |e: std::io::Error| NotRun(format!("packing {}: {e}", tests.display()));
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    let inside = if tests.is_dir() {
        builder.append_dir_all("tests", tests).map_err(fail)?;
        "tests".to_owned()
    } else {
        let name = tests
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| !n.is_empty())
            .unwrap_or("test_suite.py");
        let mut file = std::fs::File::open(tests).map_err(fail)?;
        builder
            .append_file(format!("tests/{name}"), &mut file)
            .map_err(fail)?;
        format!("tests/{name}")
    };
    if let Some(site) = site {
        builder.append_dir_all("site", site).map_err(fail)?;
    }
    let mut header = tar::Header::new_gnu();
    header.set_size(collect::PLUGIN.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder
        .append_data(
            &mut header,
            format!("plugin/{}.py", collect::PLUGIN_MODULE),
            collect::PLUGIN.as_bytes(),
        )
        .map_err(fail)?;
    let bytes = builder.into_inner().map_err(fail)?;
    if bytes.len() as u64 > BUNDLE_LIMIT {
        return Err(NotRun(format!(
            "{} with its tools is {} MiB, more than the {} MiB sent into a node",
            tests.display(),
            bytes.len() >> 20,
            BUNDLE_LIMIT >> 20
        )));
    }
    Ok((bytes, inside))
}

/// Where an attempt's folder is made inside a node.
const NODE_DIR_PREFIX: &str = "/tmp/aqf-run.";

/// Make a private folder, unpack the tar stream on stdin into it, print the folder.
const MAKE_DIR: &str = "d=$(mktemp -d /tmp/aqf-run.XXXXXXXX) && tar -x -C \"$d\" && printf %s \"$d\"";

/// What pytest's exit status and JUnit XML say.
fn outcome(ran: &Ran, junit: &Path, started: Instant) -> Tried {
    let cases = lastmile_fs::read_text(junit)
        .map(|xml| parse_junit(&xml))
        .unwrap_or_default();
    let (outcome, message) = match ran.code {
        None => (
            Outcome::TimedOut,
            format!("killed after {:.1} s (its time limit)", ran.elapsed.as_secs_f64()),
        ),
        Some(0) => (Outcome::Passed, String::new()),
        // pytest exits 1 when tests fail; with no test case reported, it never got to run them.
        Some(1) if cases.is_empty() => (
            Outcome::Error,
            format!("pytest did not run the tests: {}", last_line(ran)),
        ),
        Some(1) => {
            let failed: Vec<String> = cases
                .iter()
                .filter(|c| matches!(c.outcome, CaseOutcome::Failure | CaseOutcome::Error))
                .map(|c| c.name.clone())
                .collect();
            (
                Outcome::Failed,
                format!(
                    "{} of {} pytest tests failed: {}",
                    failed.len(),
                    cases.len(),
                    failed.join(", ")
                ),
            )
        }
        Some(5) => (Outcome::Error, "pytest collected no tests".to_owned()),
        Some(code) => (
            Outcome::Error,
            format!("pytest could not run (exit status {code}): {}", last_line(ran)),
        ),
    };
    Tried {
        outcome,
        message,
        stdout: clip(&ran.stdout),
        stderr: clip(&ran.stderr),
        duration: started.elapsed(),
        cases,
    }
}

fn last_line(ran: &Ran) -> String {
    [&ran.stderr, &ran.stdout]
        .iter()
        .find_map(|t| t.lines().rev().find(|l| !l.trim().is_empty()).map(str::to_owned))
        .unwrap_or_default()
}

/// The JUnit file of a test instance: its id made a file name, and a short hash of the id, since
/// two ids can make the same name (`a/b`, `a_b`).
fn junit_name(id: &str) -> String {
    format!(
        "{}-{}.xml",
        safe(id),
        lastmile_fs::Sha256::of(id.as_bytes()).short(8)
    )
}

/// A file name from a test id.
pub fn safe(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn file_names_from_test_ids() {
        assert_eq!(super::safe("cam:g/t 1@n"), "cam_g_t_1_n");
    }

    #[test]
    fn junit_files_of_ids_that_read_alike_differ() {
        let (a, b) = (super::junit_name("s:g/a/b"), super::junit_name("s:g/a_b"));
        assert_ne!(a, b);
        assert!(a.starts_with("s_g_a_b-") && a.ends_with(".xml"), "{a}");
    }
}

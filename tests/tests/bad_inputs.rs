//! The corpus of hostile and malformed inputs under `tests/bad-inputs/` (made by its make.py),
//! each run by the tool that reads it as `cases.toml` says. For every case: the exit code is the
//! expected 1 or 2 (never a crash or a signal), stderr names the file and the problem, nothing is
//! printed on stdout, no output file is left (unless the case says which), nothing changes in the
//! corpus or in a canary folder that hostile links point at, the run fits in 2 GiB of address
//! space (a bomb is refused by a limit, not by running out of memory), and no secret is printed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use lastmile_tests::{run_command, tool, workspace};

const CANARY: &str = "/tmp/lastmile-bad-inputs-canary";

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Cases {
    case: Vec<Case>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    tool: String,
    args: Vec<String>,
    code: i32,
    stderr: Vec<String>,
    #[serde(default)]
    secret: Option<String>,
    #[serde(default)]
    writes: Vec<String>,
    /// Files made in the copy of the corpus before the run, as sparse files of this many bytes
    /// (too large to commit).
    #[serde(default)]
    sparse: BTreeMap<String, u64>,
}

/// Every file under `dir` with its size, mode and content digest: what "unchanged" means.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, String> {
    use std::os::unix::fs::MetadataExt;
    walkdir::WalkDir::new(dir)
        .follow_links(false)
        .into_iter()
        .map(|e| e.unwrap())
        .map(|e| {
            let meta = e.path().symlink_metadata().unwrap();
            let content = if meta.is_file() {
                format!(
                    "{:x}",
                    <sha2::Sha256 as sha2::Digest>::digest(std::fs::read(e.path()).unwrap())
                )
            } else if meta.file_type().is_symlink() {
                std::fs::read_link(e.path()).unwrap().display().to_string()
            } else {
                String::new()
            };
            (
                e.path().strip_prefix(dir).unwrap().to_path_buf(),
                format!(
                    "{:o} {} {content}",
                    meta.mode(),
                    if meta.is_dir() { 0 } else { meta.len() }
                ),
            )
        })
        .collect()
}

#[test]
fn every_hostile_input_is_refused_cleanly() {
    let corpus = workspace().join("tests/bad-inputs");
    let cases: Cases = toml::from_str(&std::fs::read_to_string(corpus.join("cases.toml")).unwrap()).unwrap();
    assert!(
        cases.case.len() >= 25,
        "the corpus has {} cases",
        cases.case.len()
    );
    let failures: Vec<String> = cases
        .case
        .iter()
        .filter_map(|case| run_case(&corpus, case))
        .collect();
    let _ = std::fs::remove_dir_all(CANARY);
    assert!(
        failures.is_empty(),
        "{} of {} cases:\n{}",
        failures.len(),
        cases.case.len(),
        failures.join("\n")
    );
}

/// Run one case on a copy of the corpus; what went wrong, if anything.
fn run_case(corpus: &Path, case: &Case) -> Option<String> {
    let work = tempfile::Builder::new()
        .prefix("lastmile-bad-inputs-")
        .tempdir()
        .unwrap();
    let dir = work.path().join("corpus");
    let out = work.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let status = Command::new("cp")
        .arg("-a")
        .arg(corpus)
        .arg(&dir)
        .status()
        .unwrap();
    assert!(status.success());
    for (name, size) in &case.sparse {
        std::fs::File::create(dir.join(name))
            .unwrap()
            .set_len(*size)
            .unwrap();
    }
    let _ = std::fs::remove_dir_all(CANARY);
    std::fs::create_dir_all(CANARY).unwrap();
    let before = snapshot(&dir);
    let args: Vec<String> = case
        .args
        .iter()
        .map(|a| {
            a.replace("{dir}", &dir.display().to_string())
                .replace("{out}", &out.display().to_string())
        })
        .collect();
    // Bounded memory: the tool runs with at most 2 GiB of address space.
    let mut command = Command::new("prlimit");
    command
        .arg(format!("--as={}", 2u64 << 30))
        .arg("--")
        .arg(tool(&case.tool))
        .args(&args)
        .current_dir(work.path())
        .env("LASTMILE_CACHE_DIR", work.path().join("cache"))
        .env(
            "PIP_INDEX_URL",
            format!("file://{}", work.path().join("no-index").display()),
        )
        .env_remove("PIP_FIND_LINKS")
        .env_remove("PIP_EXTRA_INDEX_URL");
    let run = run_command(&mut command, None);
    let mut problems = outcome_problems(case, &run);
    let written: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    if written.iter().any(|w| !case.writes.contains(w)) {
        problems.push(format!("left {written:?} in the output folder"));
    }
    if snapshot(&dir) != before {
        problems.push("changed the corpus".to_owned());
    }
    if std::fs::read_dir(CANARY).unwrap().next().is_some() {
        problems.push(format!("wrote into {CANARY}"));
    }
    if let Some(secret) = &case.secret
        && leaked(work.path(), &dir, &run, secret)
    {
        problems.push(format!("printed or wrote the secret {secret:?}"));
    }
    (!problems.is_empty()).then(|| {
        format!(
            "{}: {}\n  stderr: {}",
            case.name,
            problems.join("; "),
            run.stderr.trim()
        )
    })
}

/// What the run's exit code, stderr and stdout say against what the case expects.
fn outcome_problems(case: &Case, run: &lastmile_tests::Output) -> Vec<String> {
    let mut problems = Vec::new();
    if run.code != case.code {
        problems.push(format!("exit {} (expected {})", run.code, case.code));
    }
    for fragment in &case.stderr {
        if !run.stderr.contains(fragment) {
            problems.push(format!("stderr lacks {fragment:?}"));
        }
    }
    for crash in [
        "panicked",
        "overflowed",
        "fatal runtime error",
        "memory allocation",
    ] {
        if run.stderr.contains(crash) {
            problems.push(format!("crashed ({crash})"));
        }
    }
    if !run.stdout.is_empty() {
        problems.push("printed on stdout".to_owned());
    }
    problems
}

/// Whether `secret` is on stderr or in a file the run wrote (outside the corpus).
fn leaked(work: &Path, corpus: &Path, run: &lastmile_tests::Output, secret: &str) -> bool {
    let files: String = walkdir::WalkDir::new(work)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && !e.path().starts_with(corpus))
        .map(|e| String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()).into_owned())
        .collect();
    run.stderr.contains(secret) || files.contains(secret)
}

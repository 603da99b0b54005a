//! The whole pipeline end to end, as `scripts/demo` runs it on the bundled example system with real
//! components (a private pypiserver on loopback, LXC nodes with systemd, the acceptance suite):
//! a run killed half-way and run again completes; a README change makes no candidate; its change
//! to katcore rebuilds what that affects, moves katcore's pin only, and becomes a second candidate
//! switched onto the same lab, qualified and promoted after the first; a second run from the same
//! commit, against the index the first left, gives the same versions, pins and candidates; a
//! package whose unit tests fail stops the pipeline before pinning; a package missing from the
//! private index fails pinning with the reason. (A failing health check leaving the previous candidate serving is in
//! `tests/tests/deploy/`, a failing acceptance test blocking promotion in `tests/tests/qualify/`.)
//! The nodes are named `lmtest-<pid>-...` on 127.77.40.N and removed at the end. Needs root.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lastmile_tests::{Output, run_command, tool, workspace};

/// The demo's environment for these tests: its own container prefix and addresses.
fn environment(dir: &Path) -> PathBuf {
    let lab = std::fs::read_to_string(workspace().join("examples/cam/lab.toml")).unwrap();
    let text = format!(
        "{}\n[lxc]\nprefix = \"lmtest-{}-\"\n",
        lab.replace("127.77.0.", "127.77.40."),
        std::process::id()
    );
    let path = dir.join("lab.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn demo(out: &Path, env: &Path, example: Option<&Path>) -> Command {
    let mut command = Command::new(workspace().join("scripts/demo"));
    command.arg(out).current_dir(workspace()).env("DEMO_ENV", env);
    if let Some(example) = example {
        command.env("DEMO_EXAMPLE", example);
    }
    command
}

/// Stops the nodes and the index of a demo output folder when dropped.
struct Down(PathBuf, PathBuf);

impl Drop for Down {
    fn drop(&mut self) {
        let _ = run_command(
            Command::new(workspace().join("scripts/demo"))
                .args(["--down"])
                .arg(&self.0)
                .env("DEMO_ENV", &self.1)
                .current_dir(workspace()),
            None,
        );
    }
}

fn digest(out: &Path) -> String {
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("candidate.json")).unwrap()).unwrap();
    doc["image"]["sha256"].as_str().unwrap().to_owned()
}

#[test]
fn killed_then_completed_twice_the_same_and_faults_stop_it_with_the_reason() {
    let dir = tempfile::Builder::new().prefix("lmtest-e2e-").tempdir().unwrap();
    let env = environment(dir.path());
    let out = dir.path().join("demo");
    let _down = Down(out.clone(), env.clone());
    killed_while_it_builds_the_packages(dir.path(), &out, &env);
    let first = run_command(&mut demo(&out, &env, None), None);
    assert_eq!(
        first.code, 0,
        "the run after the kill failed:\n{}\n{}",
        first.stdout, first.stderr
    );
    for line in [
        "10/10",
        "head of channel stable",
        "Tear down: scripts/demo --down",
    ] {
        assert!(
            first.stdout.contains(line) || first.stderr.contains(line),
            "{line}:\n{}\n{}",
            first.stdout,
            first.stderr
        );
    }
    let pins = std::fs::read_to_string(out.join("pinned-requirements.txt")).unwrap();
    let (candidate, second) = (digest(&out), digest(&out.join("change")));
    assert_ne!(candidate, second);
    for report in ["report.json", "change/report.json"] {
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join(report)).unwrap()).unwrap();
        assert_eq!(report["passed"], true);
    }
    // Both promoted, in order, the second over the first; it is the channel's head.
    assert_eq!(promoted(&out), [candidate.clone(), second.clone()]);
    assert_eq!(
        std::fs::read_to_string(out.join("promotions/stable/head"))
            .unwrap()
            .trim(),
        second
    );
    // The second went onto the same lab: a switch to the next generation.
    let generation = |file: &str| deployment(&out.join(file))["generation"].as_u64().unwrap();
    assert_eq!(
        generation("change/deployment.json"),
        generation("deployment.json") + 1
    );

    the_readme_change_makes_no_candidate(&out, &first.stderr);
    the_change_rebuilds_what_it_affects_and_moves_only_its_pin(&out, &pins);

    // The same commit again, against the index the first run left: the same versions, pins and
    // candidates, each switched onto the lab and promoted again.
    let versions = std::fs::read_to_string(out.join("versions.txt")).unwrap();
    let second_run = run_command(&mut demo(&out, &env, None), None);
    assert_eq!(second_run.code, 0, "{}\n{}", second_run.stdout, second_run.stderr);
    assert!(
        second_run.stdout.contains("(already published, the same bytes)"),
        "{}",
        second_run.stdout
    );
    assert_eq!(
        std::fs::read_to_string(out.join("versions.txt")).unwrap(),
        versions
    );
    assert_eq!(
        std::fs::read_to_string(out.join("pinned-requirements.txt")).unwrap(),
        pins
    );
    assert_eq!(digest(&out), candidate);
    assert_eq!(digest(&out.join("change")), second);
    assert_eq!(promoted(&out), [candidate.as_str(), &second, &candidate, &second]);

    a_package_missing_from_the_index_fails_pinning(dir.path(), &out);
    a_failing_unit_test_stops_it_before_pinning(dir.path(), &env);
}

fn deployment(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The digests of the `stable` channel's log, oldest first; each entry's `previous` is the one
/// before it.
fn promoted(out: &Path) -> Vec<String> {
    let log = std::fs::read_to_string(out.join("promotions/stable/log.jsonl")).unwrap();
    let entries: Vec<serde_json::Value> = log.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    for pair in entries.windows(2) {
        assert_eq!(pair[1]["previous"], pair[0]["digest"], "{log}");
    }
    entries
        .iter()
        .map(|e| e["digest"].as_str().unwrap().to_owned())
        .collect()
}

/// Step 9's README change: nothing to rebuild, no candidate, and depgraph said why.
fn the_readme_change_makes_no_candidate(out: &Path, stderr: &str) {
    let doc = deployment(&out.join("change/affected-readme.json"));
    assert_eq!(doc["candidate"], false);
    assert_eq!(doc["build_order"], serde_json::json!([]));
    assert_eq!(
        doc["changed_files"],
        serde_json::json!([{"path": "README.md", "package": null}])
    );
    assert!(
        stderr.contains("(README.md): nothing to rebuild, no candidate"),
        "{stderr}"
    );
}

/// The pins of a pinned-requirements file: name (with extras) to the pin line.
fn pin_lines(text: &str) -> std::collections::BTreeMap<String, String> {
    text.lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_alphanumeric()))
        .map(|l| (l.split("==").next().unwrap().to_owned(), l.to_owned()))
        .collect()
}

/// Step 9: the throw-away change to katcore rebuilt katcore and what depends on it, and of the
/// pins only katcore's moved, to a version of the changed commit.
fn the_change_rebuilds_what_it_affects_and_moves_only_its_pin(out: &Path, pins: &str) {
    let affected = std::fs::read_to_string(out.join("change/affected.txt")).unwrap();
    let affected: Vec<&str> = affected.lines().collect();
    assert_eq!(affected.first(), Some(&"katcore"), "{affected:?}");
    for dependent in ["katsim", "katportal", "katproxy"] {
        assert!(affected.contains(&dependent), "{affected:?}");
    }
    assert!(!affected.contains(&"katcp"), "{affected:?}");
    let (before, after) = (
        pin_lines(pins),
        pin_lines(&std::fs::read_to_string(out.join("change/pinned-requirements.txt")).unwrap()),
    );
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    let moved: Vec<&String> = before
        .iter()
        .filter(|(name, line)| after[*name] != **line)
        .map(|(name, _)| name)
        .collect();
    assert_eq!(moved, ["katcore[monitoring]"], "{before:?}\n{after:?}");
    let version = |line: &str| {
        line.split("==")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned()
    };
    let (old, new) = (
        version(&before["katcore[monitoring]"]),
        version(&after["katcore[monitoring]"]),
    );
    assert!(
        old.starts_with("1.3.0.post")
            && new.starts_with("1.3.0.post")
            && old.contains("+g")
            && new.contains("+g"),
        "{old} -> {new}"
    );
}

/// Killed while it builds the packages (the next run completes).
fn killed_while_it_builds_the_packages(dir: &Path, out: &Path, env: &Path) {
    let log = dir.join("killed.log");
    let mut child = demo(out, env, None)
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("katmisc: tests passed")
    {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the demo ended before it was killed"
        );
        assert!(
            started.elapsed() < Duration::from_secs(900),
            "the demo never got to katmisc"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let group = child.id() as i32;
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{group}")])
        .status();
    let _ = child.wait();
}

/// A third-party package missing from the private index: pinning fails and says which.
fn a_package_missing_from_the_index_fails_pinning(dir: &Path, out: &Path) {
    let index = dir.join("index-without-tornado");
    std::fs::create_dir(&index).unwrap();
    for entry in std::fs::read_dir(out.join("index")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if name.ends_with(".whl") && !name.starts_with("tornado-") {
            std::fs::copy(&path, index.join(&name)).unwrap();
        }
    }
    let url = run_command(
        Command::new(workspace().join("scripts/pypiserver"))
            .arg("start")
            .arg(&index),
        None,
    );
    assert_eq!(url.code, 0, "{}", url.stderr);
    let pin = run_command(
        Command::new(tool("pin-deps"))
            .args(["--from-graph"])
            .arg(out.join("graph.json"))
            .args(["--internal-index", url.stdout.trim(), "-o"])
            .arg(dir.join("pins-without-tornado.txt")),
        None,
    );
    let _ = run_command(
        Command::new(workspace().join("scripts/pypiserver"))
            .arg("stop")
            .arg(&index),
        None,
    );
    assert_eq!(pin.code, 1, "{}", pin.stderr);
    assert!(pin.stderr.contains("tornado"), "{}", pin.stderr);
    assert!(!dir.join("pins-without-tornado.txt").exists());
}

/// A package whose unit tests fail: the pipeline stops before pinning, naming it.
fn a_failing_unit_test_stops_it_before_pinning(dir: &Path, env: &Path) {
    let broken = dir.join("cam");
    copy_tree(&workspace().join("examples/cam"), &broken);
    let test = broken.join("katmisc/tests");
    let file = std::fs::read_dir(&test)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "py"))
        .unwrap();
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str("\n\nimport unittest\n\n\nclass Broken(unittest.TestCase):\n    def test_broken(self):\n        self.assertEqual(1, 2)\n");
    std::fs::write(&file, text).unwrap();
    let failed_out = dir.join("broken");
    let failed: Output = run_command(&mut demo(&failed_out, env, Some(&broken)), None);
    let _down_broken = Down(failed_out.clone(), env.to_owned());
    assert_ne!(failed.code, 0);
    assert!(
        failed
            .stderr
            .contains("katmisc: its unit tests failed; not published"),
        "{}",
        failed.stderr
    );
    assert!(!failed_out.join("pinned-requirements.txt").exists());
    assert!(
        !failed_out.join("index").read_dir().unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with("katmisc-"))
    );
}

fn copy_tree(from: &Path, to: &Path) {
    let status = Command::new("cp").arg("-a").arg(from).arg(to).status().unwrap();
    assert!(status.success());
    for build in ["build", "__pycache__"] {
        let _ = Command::new("find")
            .arg(to)
            .args([
                "-name", build, "-type", "d", "-prune", "-exec", "rm", "-rf", "{}", "+",
            ])
            .status();
    }
}

//! The pipeline's implemented stages chained as CI chains them, on the bundled example system:
//! depgraph's leaves, pinned by pin-deps against the example's wheels, installed by pip with
//! --require-hashes into a fresh venv, where the services' console scripts run.

use std::process::Command;

use lastmile_tests::{run_command, tool, workspace};

fn run(command: &mut Command, stdin: Option<&str>) -> (i32, String, String) {
    let out = run_command(command, stdin);
    (out.code, out.stdout, out.stderr)
}

#[test]
fn graph_leaves_pin_and_install_with_hashes() {
    let root = workspace();
    let (code, wheels, stderr) = run(
        Command::new(root.join("scripts/build-wheels")).current_dir(&root),
        None,
    );
    assert_eq!(code, 0, "scripts/build-wheels failed:\n{stderr}");
    let wheels = wheels.trim().to_owned();

    let (code, graph, stderr) = run(
        Command::new(tool("depgraph"))
            .arg("examples/cam")
            .current_dir(&root),
        None,
    );
    assert_eq!(code, 0, "{stderr}");
    let work = tempfile::Builder::new()
        .prefix("lastmile-pipeline-")
        .tempdir()
        .unwrap();
    let pinned = work.path().join("pinned-requirements.txt");
    let (code, _, stderr) = run(
        Command::new(tool("pin-deps"))
            .args(["--from-graph", "-", "--no-index", "--find-links", &wheels, "-o"])
            .arg(&pinned)
            .current_dir(&root),
        Some(&graph),
    );
    assert_eq!(code, 0, "pin-deps failed:\n{stderr}");
    pins_are_the_whole_system(&std::fs::read_to_string(&pinned).unwrap());
    pip_installs_exactly_them(work.path(), &pinned, &wheels);
}

/// Every in-house package and every third-party dependency the target needs, pinned and hashed,
/// each with what pulled it in.
fn pins_are_the_whole_system(text: &str) {
    // Every in-house package and every third-party dependency the target needs, pinned and hashed.
    for pin in [
        "katcomp==0.5.0",
        "katcore[monitoring]==1.3.0",
        "katmisc[metrics]==1.2.0",
        "katportal==0.4.0",
        "katulib==0.2.0",
        "pyyaml==",
        "numpy==",
        "tornado==",
        "typing-extensions==",
    ] {
        assert!(text.contains(&format!("\n{pin}")), "{pin} missing from:\n{text}");
    }
    let pins = text.lines().filter(|l| l.contains("==")).count();
    let hashes = text.matches("--hash=sha256:").count();
    assert!(
        pins >= 18 && hashes >= pins,
        "{pins} pins, {hashes} hashes:\n{text}"
    );
    // The leaves are what was asked for (`-r <stdin>`: the graph came on stdin); the rest is there
    // because a package needs it.
    let mut via: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    let mut current = String::new();
    for line in text.lines() {
        if !line.starts_with([' ', '#']) && line.contains("==") {
            current = line.split(['=', '[']).next().unwrap().to_owned();
        } else if let Some(who) = line
            .trim()
            .strip_prefix("# via")
            .map(str::trim)
            .filter(|w| !w.is_empty())
        {
            via.entry(current.clone()).or_default().push(who.to_owned());
        } else if let Some(who) = line.trim().strip_prefix("#   ") {
            via.entry(current.clone()).or_default().push(who.to_owned());
        }
    }
    for leaf in ["katcomp", "katobs", "katportal", "katproxy", "katsim", "katulib"] {
        assert_eq!(via[leaf], ["-r <stdin>"], "{leaf}");
    }
    assert_eq!(via["numpy"], ["katpoint"]);
}

/// pip accepts the hashes and installs exactly this set, offline; the console scripts run.
fn pip_installs_exactly_them(work: &std::path::Path, pinned: &std::path::Path, wheels: &str) {
    let venv = work.join("venv");
    let (code, _, stderr) = run(Command::new("python3").args(["-m", "venv"]).arg(&venv), None);
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = run(
        Command::new(venv.join("bin/python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--require-hashes",
                "--no-deps",
                "--no-index",
                "--find-links",
                wheels,
                "-r",
            ])
            .arg(pinned),
        None,
    );
    assert_eq!(code, 0, "pip install --require-hashes failed:\n{stderr}");
    let (code, _, stderr) = run(
        Command::new(venv.join("bin/python")).args(["-m", "pip", "check"]),
        None,
    );
    assert_eq!(code, 0, "pip check: {stderr}");
    let (code, help, _) = run(Command::new(venv.join("bin/kat-observe")).arg("--help"), None);
    assert_eq!(code, 0);
    assert!(help.starts_with("usage: kat-observe"));
}

//! One set of command-line conventions for every tool: the same global flags with the same
//! meaning, `--version` naming the git commit, and the exit codes of the README's table.

use std::process::Command;

use lastmile_tests::{run_command, tool, workspace};

const TOOLS: &[&str] = &["depgraph", "pin-deps", "bake-image", "deploy-lxc", "aqf-run"];

#[test]
fn every_tool_takes_the_global_flags() {
    for name in TOOLS {
        let help = run_command(Command::new(tool(name)).arg("--help"), None);
        assert_eq!(help.code, 0, "{name} --help: {}", help.stderr);
        for flag in [
            "-o, --output <FILE>",
            "-q, --quiet",
            "-v, --verbose",
            "--no-progress",
            "--color <WHEN>",
            "-V, --version",
        ] {
            assert!(
                help.stdout.contains(flag),
                "{name} --help lacks {flag}:\n{}",
                help.stdout
            );
        }
        assert!(help.stdout.contains("Examples:"), "{name} --help has no examples");
        assert!(
            help.stdout.contains("Exit codes:"),
            "{name} --help does not say its exit codes"
        );
    }
}

#[test]
fn the_version_names_the_commit_it_was_built_from() {
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(workspace())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    for name in TOOLS {
        let out = run_command(Command::new(tool(name)).arg("--version"), None);
        assert_eq!(out.code, 0);
        let line = out.stdout.trim();
        assert!(line.starts_with(&format!("{name} 0.")), "{line}");
        // Built from this checkout: the commit in the version is the one checked out (a test run
        // on uncommitted changes still names the commit they sit on).
        if let Some(head) = &head {
            assert!(line.ends_with(&format!("({head})")), "{line}, HEAD is {head}");
        }
    }
}

#[test]
fn usage_errors_exit_2_with_the_tool_named_once() {
    for name in TOOLS {
        let out = run_command(Command::new(tool(name)).arg("--no-such-flag"), None);
        assert_eq!(out.code, 2, "{name}: {}", out.stderr);
        assert!(out.stdout.is_empty());
    }
    let out = run_command(
        Command::new(tool("pin-deps")).args(["-q", "/nonexistent/requirements.in"]),
        None,
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .starts_with("pin-deps: /nonexistent/requirements.in: cannot read"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
}

#[test]
fn colour_is_used_only_when_asked_or_on_a_terminal() {
    // An empty folder makes depgraph warn that it found nothing to read.
    let empty = tempfile::tempdir().unwrap();
    let warn = |color: Option<&str>| {
        let mut command = Command::new(tool("depgraph"));
        command.arg(empty.path());
        if let Some(color) = color {
            command.args(["--color", color]);
        }
        let out = run_command(&mut command, None);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(
            out.stderr.contains("found under the given paths"),
            "{}",
            out.stderr
        );
        out.stderr
    };
    // stderr is a pipe here: plain unless asked.
    assert!(!warn(None).contains('\u{1b}'));
    assert!(!warn(Some("never")).contains('\u{1b}'));
    assert!(warn(Some("always")).contains("\u{1b}[1;33mwarning\u{1b}[0m:"));
}

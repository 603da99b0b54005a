//! A temporary folder to build a test's inputs in, and a runner for one tool's binary in it:
//! the one `TestEnv` every tool's integration tests build on.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Output, run_command};

/// A temporary folder (named `lmtest-<tool>-...`, so a leftover is easy to find) and the tool
/// binary the test runs, found by the test through `env!("CARGO_BIN_EXE_<tool>")`.
pub struct TestEnv {
    pub dir: tempfile::TempDir,
    program: PathBuf,
}

impl TestEnv {
    pub fn new(program: &str) -> Self {
        let program = PathBuf::from(program);
        let name = program
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Self {
            dir: tempfile::Builder::new()
                .prefix(&format!("lmtest-{name}-"))
                .tempdir()
                .unwrap(),
            program,
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Write a file (making its folders); `contents` is dedented by its first line's indent.
    pub fn write(&self, rel: &str, contents: &str) -> &Self {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, dedent(contents)).unwrap();
        self
    }

    /// The tool, run in the folder, as a command to add to.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.program);
        command.args(args).current_dir(self.dir.path());
        command
    }

    /// Run the tool in the folder, stdin empty.
    pub fn run(&self, args: &[&str]) -> Output {
        run_command(&mut self.command(args), None)
    }

    /// Run the tool in the folder with `stdin`.
    pub fn run_stdin(&self, args: &[&str], stdin: &str) -> Output {
        run_command(&mut self.command(args), Some(stdin))
    }
}

/// `text` without the indent of its first non-empty line (and without a leading newline), so a
/// test can write a file's contents indented with the code.
pub fn dedent(text: &str) -> String {
    let text = text.strip_prefix('\n').unwrap_or(text);
    let indent = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .map_or(0, |l| l.len() - l.trim_start().len());
    let mut out: String = text
        .lines()
        .map(|l| {
            if l.len() >= indent {
                &l[indent..]
            } else {
                l.trim_start()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    out.push('\n');
    out
}

/// Where `path` is, as a string (for command lines).
pub fn arg(path: &Path) -> String {
    path.display().to_string()
}

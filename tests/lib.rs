//! Test kit shared by the tools' integration tests and the cross-tool tests in `tests/tests/`:
//! running a binary with optional stdin, its captured result, and archive fixtures.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What a run printed and how it exited.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// The output, after asserting the run succeeded (showing stderr if not).
    #[track_caller]
    pub fn success(self) -> Self {
        assert_eq!(self.code, 0, "expected success, stderr:\n{}", self.stderr);
        self
    }

    /// Stdout parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// Run a command to completion, feeding `stdin` (or nothing: stdin is /dev/null) and capturing
/// stdout and stderr. `RUST_LOG` is removed so log levels are the tools' defaults.
pub fn run_command(command: &mut Command, stdin: Option<&str>) -> Output {
    let mut child = command
        .env_remove("RUST_LOG")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin is piped")
            .write_all(input.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

/// Run `program args...` in `dir`.
pub fn run(program: &Path, dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    run_command(Command::new(program).args(args).current_dir(dir), stdin)
}

/// The workspace root, where `examples/`, `schemas/` and `scripts/` live.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

/// Write a `.tar.gz` holding `files` (path inside the archive, contents), mode 0644.
pub fn write_tar_gz(path: &Path, files: &[(&str, &str)]) {
    let gz = flate2::write::GzEncoder::new(
        std::fs::File::create(path).unwrap(),
        flate2::Compression::default(),
    );
    let mut builder = tar::Builder::new(gz);
    for (name, contents) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(contents.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, name, contents.as_bytes())
            .unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap();
}

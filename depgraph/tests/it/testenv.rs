//! A temporary folder to build inputs in, and a runner for the `depgraph` binary.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The shared test folder, running depgraph.
pub(crate) struct TestEnv(lastmile_tests::TestEnv);

pub(crate) use lastmile_tests::{Output, workspace};

impl TestEnv {
    pub(crate) fn new() -> Self {
        Self(lastmile_tests::TestEnv::new(env!("CARGO_BIN_EXE_depgraph")))
    }
}

impl std::ops::Deref for TestEnv {
    type Target = lastmile_tests::TestEnv;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

pub(crate) fn run_in(dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    lastmile_tests::run(Path::new(env!("CARGO_BIN_EXE_depgraph")), dir, args, stdin)
}

/// A virtual environment (with pip and setuptools from the interpreter's ensurepip, so no network)
/// shared by the tests that build or install real distributions. Made once under the target
/// folder: built in a staging folder and renamed into place, so concurrent test processes never
/// see half a venv. (Only `bin/python -m ...` is used, which works wherever the venv was made.)
pub(crate) fn python_venv() -> &'static Path {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        let target = workspace().join("target/lastmile/test-venv");
        if target.join("bin/python").exists() {
            return target;
        }
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        let staging = tempfile::Builder::new()
            .prefix("test-venv-")
            .tempdir_in(target.parent().unwrap())
            .unwrap();
        let staged = staging.path().join("venv");
        let status = Command::new("python3").args(["-m", "venv"]).arg(&staged).status();
        assert!(
            status.is_ok_and(|s| s.success()),
            "python3 -m venv failed: python3 with ensurepip is needed"
        );
        // ensurepip's setuptools cannot build wheels on its own; a pinned modern one can (from the
        // package index, once: the venv is kept under target/).
        let pip = Command::new(staged.join("bin/python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "setuptools==75.8.0",
                "wheel==0.45.1",
            ])
            .output()
            .unwrap();
        assert!(
            pip.status.success(),
            "installing setuptools into the test venv failed:\n{}",
            String::from_utf8_lossy(&pip.stderr)
        );
        // Losing the race to another process is fine: its venv is as good as ours.
        let _ = std::fs::rename(&staged, &target);
        assert!(
            target.join("bin/python").exists(),
            "could not set up {}",
            target.display()
        );
        target
    })
}

/// Copy a folder (used to build distributions from examples without writing into them).
pub(crate) fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(from).unwrap();
        let dest = to.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
        } else if entry.file_type().is_file() {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

/// Build a wheel and an sdist of the project in `src` into `out` with setuptools' PEP 517 hooks.
pub(crate) fn build_dists(src: &Path, out: &Path, sdist: bool) {
    let work = tempfile::tempdir().unwrap();
    copy_dir(src, work.path());
    std::fs::create_dir_all(out).unwrap();
    let script = format!(
        "import sys; from setuptools import build_meta as b; out = sys.argv[1]; b.build_wheel(out){}",
        // build_meta rewrites sys.argv, so the folder is read once, first.
        if sdist { "; b.build_sdist(out)" } else { "" }
    );
    let output = Command::new(python_venv().join("bin/python"))
        .args(["-c", &script])
        .arg(out)
        .current_dir(work.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "building {} failed:\n{}",
        src.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

//! The suite's own venv for host pytest tests, pinned like the candidate: its requirements file
//! must be pinned with hashes (pin-deps writes it from a `requirements.in`), and is installed by
//! `pip --require-hashes --no-deps`, wheels only; made once and cached, keyed by the file's
//! contents and the Python version.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use lastmile_fs::Sha256;

use crate::context::NotRun;

/// The venv for `requirements`, made if the cache does not hold it yet.
/// The cache must be one only this user can write ([`lastmile_fs::trusted_dir`]): a venv in it
/// is run as this user.
pub(super) fn venv(cache: Option<&Path>, requirements: &Path) -> Result<PathBuf, NotRun> {
    let cache = cache.ok_or_else(|| NotRun(lastmile_fs::CacheError::NoRoot.to_string()))?;
    lastmile_fs::trusted_dir(cache).map_err(|e| NotRun(e.to_string()))?;
    let contents = check_pinned(requirements)?;
    let python = Command::new("python3")
        .arg("--version")
        .output()
        .map_err(|e| NotRun(format!("python3: {e}")))?;
    let mut key = contents;
    key.extend_from_slice(&python.stdout);
    let dir = cache.join(format!("aqf-venv-{}", Sha256::of(&key).short(16)));
    if dir.join(".complete").exists() {
        return Ok(dir);
    }
    fn io(what: &'static str) -> impl Fn(std::io::Error) -> NotRun {
        move |e| NotRun(format!("{what}: {e}"))
    }
    std::fs::create_dir_all(cache).map_err(io("creating the venv cache"))?;
    let lock = std::fs::File::create(cache.join(".aqf-venv.lock")).map_err(io("locking the venv cache"))?;
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)
        .map_err(|e| NotRun(format!("locking the venv cache: {e}")))?;
    if dir.join(".complete").exists() {
        return Ok(dir);
    }
    let _ = std::fs::remove_dir_all(&dir);
    make(&dir, requirements).inspect_err(|_| {
        let _ = std::fs::remove_dir_all(&dir);
    })?;
    std::fs::write(dir.join(".complete"), b"").map_err(io("marking the venv complete"))?;
    Ok(dir)
}

fn make(dir: &Path, requirements: &Path) -> Result<(), NotRun> {
    let made = Command::new("python3")
        .arg("-m")
        .arg("venv")
        .arg(dir)
        .output()
        .map_err(|e| NotRun(format!("python3 -m venv: {e}")))?;
    if !made.status.success() {
        return Err(NotRun(format!(
            "python3 -m venv: {}",
            String::from_utf8_lossy(&made.stderr).trim()
        )));
    }
    let mut install = Command::new(dir.join("bin/pip"));
    install
        .args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--require-hashes",
            "--no-deps",
            "--only-binary=:all:",
            "-r",
        ])
        .arg(requirements);
    let installed = lastmile_probe::run(&mut install, None, Duration::from_secs(900))?;
    if installed.code != Some(0) {
        return Err(NotRun(format!(
            "installing {} into the suite's venv: {}",
            requirements.display(),
            installed.stderr.lines().last().unwrap_or("")
        )));
    }
    Ok(())
}

/// The suite's requirements are pinned with hashes, or the test cannot run (and says how to
/// pin them).
/// Its text is returned: the venv's key.
fn check_pinned(requirements: &Path) -> Result<Vec<u8>, NotRun> {
    let shown = requirements.display().to_string();
    let file = lastmile_python::requirements_file::RequirementsFile::read(requirements)
        .map_err(|e| NotRun(e.to_string()))?;
    file.pinned(&shown).map_err(|e| {
        NotRun(format!(
            "{e}\n(the suite's own Python is pinned like the candidate's: pin-deps REQUIREMENTS.in -o {shown})"
        ))
    })?;
    lastmile_fs::read_text(requirements)
        .map(String::into_bytes)
        .map_err(|e| NotRun(format!("{shown}: {e}")))
}

/// A venv's `site-packages` folder (`lib/pythonX.Y/site-packages`).
pub(super) fn site_packages(venv: &Path) -> Result<PathBuf, NotRun> {
    let lib = venv.join("lib");
    std::fs::read_dir(&lib)
        .ok()
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("site-packages"))
        .find(|p| p.is_dir())
        .ok_or_else(|| NotRun(format!("{}: no lib/python*/site-packages", venv.display())))
}

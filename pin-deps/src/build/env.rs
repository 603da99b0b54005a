//! Build environments: the `[build-system] requires` of an sdist (PEP 518), resolved against the
//! same package sources as the run and for the same target, as wheels only (a build requirement
//! is never built itself), unpacked into a folder the hooks put first on `sys.path`. Kept under
//! the cache, keyed by the Python version and the exact versions chosen, so the same backend is
//! set up once across sdists and runs; made in a temporary folder and renamed, so a kill never
//! leaves half an environment.

use std::io::Read;
use std::path::{Path, PathBuf};

use lastmile_fs::Sha256;
use lastmile_index::{FileKind, Finder};
use lastmile_python::{PackageName, Target, Version};

use super::Failure;

/// The exact versions of an environment.
pub(crate) type Pins = [(PackageName, Version)];

/// The folder of an environment holding exactly `pins`, made if missing.
pub(crate) fn environment(
    finder: &Finder,
    target: &Target,
    pins: &Pins,
    root: &Path,
    python: &Path,
) -> Result<PathBuf, Failure> {
    let mut key = format!("{}.{}", target.python.0, target.python.1);
    for (name, version) in pins {
        key.push_str(&format!("\n{name}=={version}"));
    }
    let dir = root.join(Sha256::of(key.as_bytes()).short(16));
    if dir.join(".complete").is_file() {
        return Ok(dir.join("site"));
    }
    std::fs::create_dir_all(root)?;
    let temp = tempfile::Builder::new().prefix(".env-").tempdir_in(root)?;
    let site = temp.path().join("site");
    for (name, version) in pins {
        install(finder, name, version, &site)?;
    }
    compile(python, &site);
    std::fs::write(temp.path().join("requirements.txt"), &key)?;
    std::fs::write(temp.path().join(".complete"), b"")?;
    let made = temp.keep();
    if std::fs::rename(&made, &dir).is_err() {
        // Another run made the same environment meanwhile: use that one.
        let _ = std::fs::remove_dir_all(&made);
    }
    Ok(dir.join("site"))
}

/// Unpack the best wheel of `name==version` for the target into `site` (build backends are pure
/// Python: their `.data/purelib|platlib` go there too, scripts and headers are not needed).
fn install(finder: &Finder, name: &PackageName, version: &Version, site: &Path) -> Result<(), Failure> {
    let wheel = finder
        .files(name, version)
        .into_iter()
        .filter(|f| f.installable())
        .filter_map(|f| match f.kind {
            FileKind::Wheel { rank: Some(rank) } => Some((rank, f)),
            _ => None,
        })
        .min_by_key(|(rank, _)| *rank)
        .map(|(_, f)| f)
        .ok_or_else(|| {
            Failure::Requirements(format!(
                "{name}=={version}, needed to build, has no wheel for the target"
            ))
        })?;
    let path = finder
        .local_path(&wheel)
        .map_err(|e| Failure::Io(e.to_string()))?;
    let file = std::fs::File::open(&path)?;
    let bad = |e: zip::result::ZipError| Failure::Unpack(format!("{}: {e}", wheel.filename));
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(bad)?;
    let data = format!("{}-{}.data/", name.as_dist_info_name(), version);
    for index in 0..zip.len() {
        let mut entry = zip.by_index(index).map_err(bad)?;
        let Some(member) = entry.enclosed_name() else {
            return Err(Failure::Unpack(format!(
                "{}: {}: a path outside the wheel",
                wheel.filename,
                entry.name()
            )));
        };
        let member = member.to_string_lossy().into_owned();
        let target = match member.strip_prefix(&data) {
            Some(rest) => match rest.split_once('/') {
                Some(("purelib" | "platlib", inner)) => site.join(inner),
                _ => continue,
            },
            None => site.join(&member),
        };
        if entry.is_dir() {
            continue;
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut bytes = Vec::new();
        (&mut entry)
            .take(1 << 30)
            .read_to_end(&mut bytes)
            .map_err(|e| Failure::Unpack(format!("{}: {e}", wheel.filename)))?;
        std::fs::write(&target, bytes)?;
    }
    Ok(())
}

/// Byte-compile the environment once with the build Python, so each hook run imports the
/// backend from bytecode instead of compiling it again (setuptools: 0.6 s an import without,
/// 0.3 s with). Only ever faster: a failure is logged and the hooks compile as they import.
fn compile(python: &Path, site: &Path) {
    let mut command = std::process::Command::new(python);
    command
        .args(["-I", "-m", "compileall", "-q", "-j", "0"])
        .arg(site);
    match lastmile_process::run(&mut command, None, Some(std::time::Duration::from_secs(120))) {
        Ok(done) if done.success() => {}
        Ok(done) => tracing::debug!("byte-compiling the build environment: {}", done.last_line()),
        Err(e) => tracing::debug!("byte-compiling the build environment: {e}"),
    }
}

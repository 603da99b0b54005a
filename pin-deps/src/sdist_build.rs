//! Read the metadata of an sdist whose metadata is dynamic by running its build backend's PEP 517
//! `prepare_metadata_for_build_wheel` hook (in a temporary folder, with the given Python, without
//! build isolation: the backend must be importable by that Python).

use std::path::Path;

use lastmile_dist::DistMetadata;
use lastmile_fs::Location;
use lastmile_index::finder::DistFile;
use lastmile_python::metadata::CoreMetadata;

const HOOK: &str = r#"
import importlib, os, sys
source, out = sys.argv[1], sys.argv[2]
backend = os.environ["LASTMILE_BACKEND"]
for path in reversed([p for p in os.environ.get("LASTMILE_BACKEND_PATH", "").split(os.pathsep) if p]):
    sys.path.insert(0, os.path.join(source, path))
os.chdir(source)
module, _, attr = backend.partition(":")
hooks = importlib.import_module(module)
for part in filter(None, attr.split(".")):
    hooks = getattr(hooks, part)
if hasattr(hooks, "prepare_metadata_for_build_wheel"):
    name = hooks.prepare_metadata_for_build_wheel(out)
else:
    import zipfile
    wheel = hooks.build_wheel(out)
    with zipfile.ZipFile(os.path.join(out, wheel)) as archive:
        name = next(n.split("/")[0] for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        archive.extractall(out, [m for m in archive.namelist() if m.startswith(name + "/")])
print(name)
"#;

#[derive(serde::Deserialize, Default)]
struct PyProject {
    #[serde(rename = "build-system", default)]
    build_system: BuildSystem,
}

#[derive(serde::Deserialize, Default)]
struct BuildSystem {
    #[serde(rename = "build-backend")]
    backend: Option<String>,
    #[serde(rename = "backend-path", default)]
    backend_path: Vec<String>,
}

/// An sdist whose metadata could not be built.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{file}: building metadata failed: {reason}")]
pub(crate) struct BuildError {
    file: String,
    reason: String,
}

pub(crate) fn metadata(
    sdist: &DistFile,
    local: &std::path::Path,
    python: &str,
) -> Result<DistMetadata, BuildError> {
    let shown = sdist.shown();
    let fail = |reason: String| BuildError {
        file: shown.clone(),
        reason,
    };
    let work = tempfile::tempdir().map_err(|e| fail(e.to_string()))?;
    let unpacked = work.path().join("src");
    unpack(local, &unpacked).map_err(|e| fail(format!("cannot unpack: {e}")))?;
    let mut tops = std::fs::read_dir(&unpacked)
        .map_err(|e| fail(e.to_string()))?
        .filter_map(Result::ok)
        .map(|e| e.path());
    let source = match (tops.next(), tops.next()) {
        (Some(top), None) if top.is_dir() => top,
        _ => unpacked.clone(),
    };
    let pyproject: PyProject = std::fs::read_to_string(source.join("pyproject.toml"))
        .ok()
        .map(|text| toml::from_str(&text).map_err(|e| fail(format!("pyproject.toml: {e}"))))
        .transpose()?
        .unwrap_or_default();
    let backend = pyproject
        .build_system
        .backend
        .unwrap_or_else(|| "setuptools.build_meta:__legacy__".into());
    let out = work.path().join("metadata");
    std::fs::create_dir(&out).map_err(|e| fail(e.to_string()))?;
    let run = duct::cmd!(python, "-c", HOOK, &source, &out)
        .env("LASTMILE_BACKEND", &backend)
        .env(
            "LASTMILE_BACKEND_PATH",
            pyproject.build_system.backend_path.join(":"),
        )
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .map_err(|e| fail(format!("cannot run {python}: {e}")))?;
    if !run.status.success() {
        let stderr = String::from_utf8_lossy(&run.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no output");
        return Err(fail(format!("{backend} failed: {last}")));
    }
    let name = String::from_utf8_lossy(&run.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_owned();
    let path = out.join(&name).join("METADATA");
    let text =
        std::fs::read_to_string(&path).map_err(|e| fail(format!("{backend} wrote no METADATA: {e}")))?;
    let location = Location::file(format!("{shown} (built metadata)"));
    let metadata = CoreMetadata::parse(&text, &location).map_err(|e| fail(e.to_string()))?;
    Ok(DistMetadata {
        dependencies: metadata.requires_dist.clone(),
        console_scripts: Default::default(),
        metadata,
        warning: None,
    })
}

fn unpack(archive: &Path, into: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(into)?;
    let file = std::fs::File::open(archive)?;
    if archive.to_string_lossy().ends_with(".zip") {
        let mut zip = zip::ZipArchive::new(file)?;
        // ZipArchive::extract refuses entries that would leave the folder.
        zip.extract(into)?;
    } else {
        // tar's unpack refuses absolute paths and `..` entries.
        tar::Archive::new(flate2::read::GzDecoder::new(file)).unpack(into)?;
    }
    Ok(())
}

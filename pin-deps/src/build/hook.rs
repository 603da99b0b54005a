//! The PEP 517 hooks, run by the build Python in isolation: no site-packages but the build
//! environment's (`-I -S`, the environment put first on `sys.path`), in the unpacked sdist, with a
//! time limit. `get_requires_for_build_wheel` says what else the backend needs;
//! `prepare_metadata_for_build_wheel` writes the metadata, or, for a backend without it,
//! `build_wheel` builds the wheel and the metadata is taken from it (PEP 517's fallback). When
//! the backend needs nothing more (setuptools, hatchling, flit...), both run in one process, so
//! the backend is imported once.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

const HOOK: &str = r#"
import importlib, json, os, sys
mode, site, source, out = sys.argv[1:5]
sys.path[:0] = [site]
backend = os.environ["LASTMILE_BACKEND"]
for path in reversed([p for p in os.environ.get("LASTMILE_BACKEND_PATH", "").split(os.pathsep) if p]):
    sys.path.insert(0, os.path.join(source, path))
os.chdir(source)
module, _, attr = backend.partition(":")
hooks = importlib.import_module(module)
for part in filter(None, attr.split(".")):
    hooks = getattr(hooks, part)
def metadata():
    if hasattr(hooks, "prepare_metadata_for_build_wheel"):
        return hooks.prepare_metadata_for_build_wheel(out)
    import zipfile
    wheel = hooks.build_wheel(out)
    with zipfile.ZipFile(os.path.join(out, wheel)) as archive:
        name = next(n.split("/")[0] for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        archive.extractall(out, [m for m in archive.namelist() if m.startswith(name + "/")])
    return name
if mode == "metadata":
    result = metadata()
else:
    get = getattr(hooks, "get_requires_for_build_wheel", None)
    requires = list(get()) if get else []
    # Nothing more needed: the metadata in the same process (the backend imported once).
    result = {"requires": requires, "metadata": None if requires else metadata()}
print("\nLASTMILE-RESULT " + json.dumps(result))
"#;

/// Which hook to run.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Hook {
    /// `get_requires_for_build_wheel`, and when the backend needs nothing more, the metadata
    /// in the same process: `{"requires": [...], "metadata": NAME or null}`.
    RequiresThenMetadata,
    /// `prepare_metadata_for_build_wheel` (or `build_wheel`): the `.dist-info` name written in
    /// the output folder.
    Metadata,
}

/// The backend as the sdist's `pyproject.toml` names it.
#[derive(Debug, Clone)]
pub(crate) struct Backend {
    pub(crate) name: String,
    pub(crate) path: Vec<String>,
}

/// Run a hook; its result (the JSON it printed last), or why it failed.
pub(crate) fn run(
    python: &Path,
    hook: Hook,
    backend: &Backend,
    site: &Path,
    source: &Path,
    out: &Path,
    limit: Duration,
) -> Result<serde_json::Value, super::Failure> {
    use super::Failure;
    let mode = match hook {
        Hook::RequiresThenMetadata => "requires",
        Hook::Metadata => "metadata",
    };
    let mut command = Command::new(python);
    // A clean environment: the run's credentials (LASTMILE_AUTH_*, netrc paths, index URLs) are
    // not the backend's business, and the metadata should not depend on the caller's shell.
    command.env_clear();
    for kept in ["PATH", "HOME", "TMPDIR", "LANG", "LC_ALL"] {
        if let Some(value) = std::env::var_os(kept) {
            command.env(kept, value);
        }
    }
    command
        .args(["-I", "-S", "-B", "-c", HOOK, mode])
        .arg(site)
        .arg(source)
        .arg(out)
        .current_dir(source)
        .env("LASTMILE_BACKEND", &backend.name)
        .env("LASTMILE_BACKEND_PATH", backend.path.join(":"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("SOURCE_DATE_EPOCH", "315532800");
    let done = lastmile_process::run(&mut command, None, Some(limit))
        .map_err(|e| Failure::Backend(format!("{}: {e}", backend.name)))?;
    if done.timed_out() {
        return Err(Failure::Backend(format!(
            "{} ran past its time limit of {} s and was stopped",
            backend.name,
            limit.as_secs()
        )));
    }
    if !done.success() {
        return Err(Failure::Backend(format!(
            "{} failed: {}",
            backend.name,
            done.last_line()
        )));
    }
    let stdout = String::from_utf8_lossy(&done.stdout);
    let result = stdout
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix("LASTMILE-RESULT "))
        .ok_or_else(|| Failure::Backend(format!("{} gave no result", backend.name)))?;
    serde_json::from_str(result).map_err(|e| Failure::Backend(format!("{}: {e}", backend.name)))
}

//! Wheels for pins that have only an sdist, built in the build root (`--build-root`): the base
//! plus a C compiler and the base's Python headers, so a C extension is compiled against the
//! base's own Python and C library, never the host's.
//!
//! The build root is checked against the base first (every package the base has, at the same
//! version). Each build runs in a mount and PID namespace of its own, in an overlay over the
//! build root (which is never written), with the bake's sources bound read-only and pip's
//! isolated build environment resolved from them alone. A wheel is cached by the sdist's
//! sha256 and the build root's package set: the same sdist in the same build root is built once.
//! The manifest records which wheel was built from which sdist, and with what.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use lastmile_documents::candidate::BuiltFrom;
use lastmile_fs::{Root, Sha256};
use lastmile_index::SourceOptions;
use lastmile_python::{Target, installed_debs};

mod sources;

use sources::PipSources;

const SANDBOX: &str = include_str!("sandbox.sh");
const BUILD_PY: &str = include_str!("build.py");
/// Every built wheel's entries carry this time (1980-01-01, the first a zip can hold): the
/// wheel's bytes depend on the sdist and the build root, never on when it was built.
const WHEEL_EPOCH: &str = "315532800";
/// Lines of a failed build's log shown in the error.
const LOG_TAIL: usize = 15;

/// A checked build root.
pub(crate) struct BuildRoot {
    path: PathBuf,
    /// What the manifest records of it: the C library, the Python, the compiler.
    builder: BTreeMap<String, String>,
    /// Part of the cache key: the build root's whole package set.
    key: String,
}

impl BuildRoot {
    /// Check `path` is a build root made from the base (staged at `base_rootfs`).
    pub(crate) fn open(path: &Path, base_rootfs: &Path, target: &Target) -> anyhow::Result<Self> {
        let shown = path.display();
        let remake = "make it from the base's OS lock with scripts/build-root";
        let own = Target::from_rootfs(path).map_err(|e| anyhow::anyhow!("--build-root: {e}"))?;
        if own != *target {
            bail!("--build-root {shown}: it has {own}, the base {target}; {remake}");
        }
        let root = Root::open(path).map_err(|e| anyhow::anyhow!("--build-root {shown}: {e}"))?;
        if !root.exists(Path::new("usr/bin/gcc")) {
            bail!("--build-root {shown}: no C compiler (usr/bin/gcc); {remake}");
        }
        let debs = |rootfs: &Path, what: &str| -> anyhow::Result<BTreeMap<String, String>> {
            installed_debs(rootfs)?.ok_or_else(|| {
                anyhow::anyhow!(
                    "--build-root: {what} has no dpkg database (var/lib/dpkg/status), so the build root cannot be checked against the base"
                )
            })
        };
        let base = debs(base_rootfs, "the base")?;
        let own = debs(path, &format!("{shown}"))?;
        let differ: Vec<String> = base
            .iter()
            .filter_map(|(name, version)| match own.get(name) {
                Some(v) if v == version => None,
                Some(v) => Some(format!("{name} {v} (the base has {version})")),
                None => Some(format!("no {name} (the base has {version})")),
            })
            .collect();
        if !differ.is_empty() {
            let more = if differ.len() > 5 {
                format!(" and {} more", differ.len() - 5)
            } else {
                String::new()
            };
            bail!(
                "--build-root {shown}: not made from this base: {}{more}; {remake}",
                differ[..differ.len().min(5)].join(", ")
            );
        }
        let python = format!("python{}.{}", target.python.0, target.python.1);
        let builder = own
            .iter()
            .filter(|(name, _)| {
                ["libc6", "libc6-dev", python.as_str(), &format!("lib{python}-dev")].contains(&name.as_str())
                    || name
                        .strip_prefix("gcc-")
                        .is_some_and(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
            })
            .map(|(name, version)| (name.clone(), version.clone()))
            .collect();
        let listing: String = own.iter().map(|(n, v)| format!("{n}={v}\n")).collect();
        Ok(BuildRoot {
            path: path.to_owned(),
            builder,
            key: Sha256::of(listing.as_bytes()).to_string()[..16].to_owned(),
        })
    }
}

/// Builds wheels from sdists in a build root.
pub(crate) struct Builder {
    root: BuildRoot,
    sources: PipSources,
    /// `CACHE/built-wheels`; `None` with `--no-cache`.
    cache: Option<PathBuf>,
    /// Where builds run and, without a cache, where their wheels stay (the bake's staging).
    scratch: PathBuf,
}

/// A wheel built from a pinned sdist.
pub(crate) struct Built {
    pub(crate) filename: String,
    pub(crate) path: PathBuf,
    pub(crate) sha256: Sha256,
    pub(crate) from: BuiltFrom,
}

impl Builder {
    pub(crate) fn new(root: BuildRoot, options: &SourceOptions, scratch: &Path) -> anyhow::Result<Self> {
        Ok(Builder {
            root,
            sources: PipSources::of(options)?,
            cache: options.http.cache_dir.as_ref().map(|c| c.join("built-wheels")),
            scratch: scratch.to_owned(),
        })
    }

    /// The wheel of the sdist `filename` (at `sdist`, a local file whose sha256 is `sha256`,
    /// checked against the pin; a downloaded one is named by its hash), from the cache or built
    /// now. `what` names the pin in messages.
    pub(crate) fn wheel(
        &self,
        what: &str,
        sdist: &Path,
        filename: &str,
        sha256: &Sha256,
    ) -> anyhow::Result<Built> {
        if filename.contains('/') || filename.starts_with('.') || filename.is_empty() {
            bail!("{what}: {filename:?} is not a file name; refusing to build it");
        }
        let sdist_name = filename.to_owned();
        let from = BuiltFrom {
            sdist: sdist_name.clone(),
            sha256: *sha256,
            builder: self.root.builder.clone(),
        };
        let cached = self
            .cache
            .as_ref()
            .map(|cache| cache.join(sha256.to_string()).join(&self.root.key));
        if let Some(dir) = &cached
            && let Some(path) = only_wheel(dir)?
        {
            tracing::info!(
                "{what}: the wheel built from {sdist_name} is cached in {}",
                dir.display()
            );
            return built(path, from);
        }
        let work = tempfile::Builder::new()
            .prefix(".build-")
            .tempdir_in(&self.scratch)
            .context("creating a build folder")?;
        let log = self.run(work.path(), sdist, &sdist_name)?;
        let out = work.path().join("upper/build/out");
        let Some(wheel) = (if log.0 { only_wheel(&out)? } else { None }) else {
            let failed = work.path().join("build.log");
            let kept = self.keep_log(&failed, sha256, &log.1);
            bail!(
                "{what}: building a wheel from {sdist_name} in the build root {} failed:\n{}\n(the whole log: {kept})",
                self.root.path.display(),
                tail(&log.1, LOG_TAIL)
            );
        };
        let wheel_name = file_name(&wheel)?;
        let dest = match &cached {
            Some(dir) => store(&wheel, dir, &wheel_name, &log.1)?,
            None => {
                let dest = self.scratch.join(&wheel_name);
                std::fs::rename(&wheel, &dest).with_context(|| format!("keeping {wheel_name}"))?;
                dest
            }
        };
        built(dest, from)
    }

    /// Run one build in `work`; returns whether it succeeded and its log.
    fn run(&self, work: &Path, sdist: &Path, sdist_name: &str) -> anyhow::Result<(bool, String)> {
        let input = work.join("in");
        std::fs::create_dir_all(&input).context("creating the build's input folder")?;
        std::fs::copy(sdist, input.join(sdist_name))
            .with_context(|| format!("copying {}", sdist.display()))?;
        std::fs::write(input.join("build.py"), BUILD_PY).context("writing build.py")?;
        let job = serde_json::json!({"sdist": sdist_name, "pip": self.sources.args});
        std::fs::write(input.join("build.json"), job.to_string()).context("writing build.json")?;
        let mut args: Vec<std::ffi::OsString> = [
            "--mount",
            "--pid",
            "--fork",
            "--kill-child",
            "--",
            "sh",
            "-c",
            SANDBOX,
            "sandbox",
        ]
        .iter()
        .map(Into::into)
        .collect();
        args.push(self.root.path.clone().into());
        args.push(work.into());
        args.extend(self.sources.folders.iter().map(Into::into));
        let out = lastmile_process::output(
            &duct::cmd("unshare", args)
                .env("SOURCE_DATE_EPOCH", WHEEL_EPOCH)
                .stderr_to_stdout(),
        )
        .context("running unshare (building from an sdist needs root)")?;
        Ok((
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        ))
    }

    /// Keep a failed build's log where it outlives the bake: beside the cached wheels, else in
    /// the temporary folder.
    fn keep_log(&self, fallback: &Path, sha256: &Sha256, log: &str) -> String {
        let path = self.cache.as_ref().map_or_else(
            || std::env::temp_dir().join(format!("lastmile-build-{}.log", &sha256.to_string()[..16])),
            |cache| cache.join(format!("{sha256}-{}.failed.log", self.root.key)),
        );
        let written = path.parent().is_some_and(|p| std::fs::create_dir_all(p).is_ok())
            && std::fs::write(&path, log).is_ok();
        if written {
            path.display().to_string()
        } else {
            fallback.display().to_string()
        }
    }
}

/// Move a built wheel and its log into the cache folder `dir`, whole or not at all.
fn store(wheel: &Path, dir: &Path, wheel_name: &str, log: &str) -> anyhow::Result<PathBuf> {
    let parent = dir.parent().context("a cache folder has a parent")?;
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempdir_in(parent)
        .with_context(|| format!("creating a folder in {}", parent.display()))?;
    std::fs::copy(wheel, tmp.path().join(wheel_name)).with_context(|| format!("caching {wheel_name}"))?;
    std::fs::write(tmp.path().join("build.log"), log).context("caching the build log")?;
    let tmp = tmp.keep();
    // Another bake may have stored the same build meanwhile: theirs stays.
    if std::fs::rename(&tmp, dir).is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    only_wheel(dir)?.with_context(|| format!("{}: no wheel after caching it", dir.display()))
}

/// The one `.whl` in `dir`, if it exists and holds exactly one.
fn only_wheel(dir: &Path) -> anyhow::Result<Option<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    let mut wheels = Vec::new();
    for entry in entries {
        let path = entry
            .with_context(|| format!("reading {}", dir.display()))?
            .path();
        if path.extension().is_some_and(|e| e == "whl") {
            wheels.push(path);
        }
    }
    Ok((wheels.len() == 1).then(|| wheels.remove(0)))
}

fn built(path: PathBuf, from: BuiltFrom) -> anyhow::Result<Built> {
    let sha256 = Sha256::of_file(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(Built {
        filename: file_name(&path)?,
        path,
        sha256,
        from,
    })
}

fn file_name(path: &Path) -> anyhow::Result<String> {
    path.file_name()
        .and_then(|n| n.to_str())
        .map(str::to_owned)
        .with_context(|| format!("{}: not a file name", path.display()))
}

/// The last `lines` lines of a log, indented.
fn tail(log: &str, lines: usize) -> String {
    let all: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    all[all.len().saturating_sub(lines)..]
        .iter()
        .map(|l| format!("  | {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

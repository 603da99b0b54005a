//! Find what to read under the paths given on the command line.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use lastmile_dist::ArchiveKind;
use lastmile_project::{PROJECT_FILES, declares_project, is_project_dir};
use walkdir::WalkDir;

/// One thing to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Item {
    /// A source tree (a folder with pyproject.toml, setup.cfg or setup.py).
    Project(PathBuf),
    DistInfo(PathBuf),
    /// An `*.egg-info` folder or file.
    EggInfo(PathBuf),
    Wheel(PathBuf),
    /// An sdist; `explicit` when named on the command line (so a bad one is an error, while a
    /// stray archive found by walking a folder is only a warning).
    Sdist {
        path: PathBuf,
        explicit: bool,
    },
}

/// Walk the inputs in command-line order; folders are walked in file-name order.
pub(crate) fn discover(paths: &[PathBuf]) -> anyhow::Result<Vec<Item>> {
    let mut items = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).with_context(|| format!("{}", path.display()))?;
        if meta.is_dir() {
            walk(path, &mut items)?;
        } else {
            items.push(classify_file(path)?);
        }
    }
    Ok(items)
}

fn classify_file(path: &Path) -> anyhow::Result<Item> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    if PROJECT_FILES.contains(&name) {
        let parent = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        return Ok(Item::Project(parent.to_path_buf()));
    }
    if name.ends_with(".egg-info") || name == "PKG-INFO" {
        return Ok(Item::EggInfo(path.to_path_buf()));
    }
    if name == "METADATA"
        && let Some(parent) = path
            .parent()
            .filter(|p| p.to_string_lossy().ends_with(".dist-info"))
    {
        return Ok(Item::DistInfo(parent.to_path_buf()));
    }
    match ArchiveKind::of(path) {
        Some(ArchiveKind::Wheel) => Ok(Item::Wheel(path.to_path_buf())),
        Some(_) => Ok(Item::Sdist {
            path: path.to_path_buf(),
            explicit: true,
        }),
        None => bail!(
            "{}: not a source tree, environment, wheel or sdist (expected a folder, pyproject.toml, setup.cfg, setup.py, .whl, .tar.gz or .zip)",
            path.display()
        ),
    }
}

fn skipped_dir(name: &str) -> bool {
    name.starts_with('.') || matches!(name, "__pycache__" | "node_modules")
}

fn walk(root: &Path, items: &mut Vec<Item>) -> anyhow::Result<()> {
    let mut walker = WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            e.depth() == 0 || !(e.file_type().is_dir() && skipped_dir(&e.file_name().to_string_lossy()))
        });
    while let Some(entry) = walker.next() {
        let entry = entry.with_context(|| format!("walking {}", root.display()))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy();
        if entry.file_type().is_dir() {
            if path.join("pyvenv.cfg").is_file() {
                // A virtual environment: only its site-packages matter (bin/, share/ are not walked).
                for site in venv_site_packages(path)? {
                    items.extend(site_packages(&site)?.unwrap_or_default());
                }
                walker.skip_current_dir();
            } else if name.ends_with(".dist-info") {
                items.push(Item::DistInfo(path.to_path_buf()));
                walker.skip_current_dir();
            } else if name.ends_with(".egg-info") {
                items.push(Item::EggInfo(path.to_path_buf()));
                walker.skip_current_dir();
            } else if is_project_dir(path) {
                // A folder whose pyproject.toml holds only tool settings (a repository's root)
                // is not a package: the packages are below it, so the walk goes on.
                if declares_project(path) {
                    items.push(Item::Project(path.to_path_buf()));
                    walker.skip_current_dir();
                }
            } else if let Some(installed) = site_packages(path)? {
                items.extend(installed);
                walker.skip_current_dir();
            }
        } else if entry.file_type().is_file() {
            match ArchiveKind::of(path) {
                Some(ArchiveKind::Wheel) => items.push(Item::Wheel(path.to_path_buf())),
                Some(_) => items.push(Item::Sdist {
                    path: path.to_path_buf(),
                    explicit: false,
                }),
                None => {}
            }
        }
    }
    Ok(())
}

/// The installed distributions of a folder that holds `*.dist-info`/`*.egg-info` entries (a
/// site-packages folder); `None` for any other folder. Package code beside them is not walked.
fn site_packages(dir: &Path) -> anyhow::Result<Option<Vec<Item>>> {
    let mut found = Vec::new();
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        let file_name = entry.file_name();
        let name = file_name.to_string_lossy();
        if name.ends_with(".dist-info") {
            // The type from the directory entry itself (no stat), following a link only.
            let is_dir = match entry.file_type() {
                Ok(kind) if kind.is_symlink() => entry.path().is_dir(),
                Ok(kind) => kind.is_dir(),
                Err(_) => false,
            };
            if is_dir {
                found.push((name.into_owned(), Item::DistInfo(entry.path())));
            }
        } else if name.ends_with(".egg-info") {
            found.push((name.into_owned(), Item::EggInfo(entry.path())));
        }
    }
    if found.is_empty() {
        return Ok(None);
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Some(found.into_iter().map(|(_, item)| item).collect()))
}

/// `lib/python3.X/site-packages` (and `lib64/...` when it is not a link to `lib`) of a venv.
fn venv_site_packages(venv: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for lib in ["lib", "lib64"] {
        let lib_dir = venv.join(lib);
        if lib == "lib64" && std::fs::symlink_metadata(&lib_dir).is_ok_and(|m| m.file_type().is_symlink()) {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&lib_dir) else {
            continue;
        };
        let mut pythons: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with("python"))
            .map(|e| e.path().join("site-packages"))
            .filter(|p| p.is_dir())
            .collect();
        pythons.sort();
        found.extend(pythons);
    }
    Ok(found)
}

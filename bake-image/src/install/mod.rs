//! Install wheels into a virtual environment inside a root filesystem, natively, as the binary
//! distribution format says: root files and `.data/purelib|platlib` into site-packages,
//! `.data/scripts` into `bin/` with `#!python` rewritten, `.data/headers` and `.data/data` into
//! their places, console and GUI launchers from `entry_points.txt`, `INSTALLER`, `REQUESTED` for
//! top-level requirements, and a regenerated, sorted `RECORD`. Every file is checked against the
//! wheel's own `RECORD` while it is written. Entries with absolute paths, `..`, or links are refused.
//! Modes are fixed (0644, or 0755 for executables), never the umask's.

mod files;
mod launchers;
mod read_back;
mod wheel;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use lastmile_dist::record;
use lastmile_fs::{Root, RootError, Sha256};

use files::{create_dirs, remove_if_there, write_file};
pub(crate) use read_back::{materialize, read_back_owned, verify_members};
use wheel::{Wheel, check_member, is_record};
pub(crate) use wheel::{Zip, open_zip};

/// A virtual environment being built inside a root filesystem.
#[derive(Debug, Clone)]
pub(crate) struct Venv {
    /// The root filesystem, every write confined to it.
    pub(crate) root: Arc<Root>,
    /// Where the venv is inside the container (`/opt/lastmile/venv`).
    pub(crate) prefix: String,
    /// `(3, 11)`.
    pub(crate) python: (u8, u8),
    /// The full version for `pyvenv.cfg` (`3.11.2`).
    pub(crate) python_full: String,
    /// Leave member files in their wheels (streamed into the archive) instead of writing them.
    pub(crate) defer: bool,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum InstallError {
    #[error("{wheel}: {message}")]
    Bad { wheel: String, message: String },
    #[error("{wheel}: {0}", wheel = .1)]
    Io(#[source] std::io::Error, String),
    #[error(transparent)]
    Root(#[from] RootError),
}

fn bad(wheel: &str, message: impl Into<String>) -> InstallError {
    InstallError::Bad {
        wheel: wheel.to_owned(),
        message: message.into(),
    }
}

/// What an installed distribution put where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Installed {
    pub(crate) name: String,
    pub(crate) version: String,
    /// Files relative to the venv, sorted.
    pub(crate) files: Vec<String>,
    pub(crate) scripts: Vec<String>,
    /// sha256 of the RECORD written.
    pub(crate) record_sha256: Sha256,
    /// Files left in the wheel, to be streamed into the archive (see `Venv::defer`).
    pub(crate) deferred: Vec<(PathBuf, Deferred)>,
}

/// A file of the image that stays in its wheel until the archive is written: verified against
/// the wheel's RECORD at install, read from the wheel again while archiving. Installing a wheel
/// then writes only its folders and the few files the install makes (launchers, RECORD, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Deferred {
    pub(crate) wheel: PathBuf,
    /// The member's index in the wheel's zip.
    pub(crate) index: usize,
    pub(crate) size: u64,
    pub(crate) mode: u32,
    /// Its sha256 as the wheel's RECORD has it: what the archive names it by, checked when the
    /// member is read (into the archive, or first, for a wheel no bake has checked yet).
    pub(crate) sha256: Sha256,
    /// Its name in the wheel, for messages.
    pub(crate) member: String,
    /// The wheel's sha256, once checked against its pin: a wheel whose members all matched
    /// their RECORD once is known by it, and its members need not be read to be trusted.
    pub(crate) wheel_sha256: Option<Sha256>,
}

/// What one install has put in the venv so far: each file (relative to the venv) with its
/// RECORD hash and size, the scripts, and the files left in the wheel.
#[derive(Default)]
struct Placed {
    recorded: BTreeMap<String, (String, u64)>,
    scripts: Vec<String>,
    deferred: Vec<(PathBuf, Deferred)>,
}

impl Placed {
    fn record(&mut self, path: String, contents: &[u8]) {
        self.recorded
            .insert(path, (record::hash_of(contents), contents.len() as u64));
    }
}

/// A reader that hashes what it reads and counts it, for members checked as they stream.
pub(super) struct Hashing<R> {
    pub(super) inner: R,
    pub(super) hasher: lastmile_fs::Sha256Writer<std::io::Sink>,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        std::io::Write::write_all(&mut self.hasher, &buf[..n])?;
        Ok(n)
    }
}

impl Venv {
    /// The venv inside the root filesystem (a relative path).
    pub(crate) fn dir(&self) -> PathBuf {
        PathBuf::from(self.prefix.trim_start_matches('/'))
    }

    pub(crate) fn site_packages_rel(&self) -> String {
        format!("lib/python{}.{}/site-packages", self.python.0, self.python.1)
    }

    fn python_in_container(&self) -> String {
        format!("{}/bin/python", self.prefix)
    }

    /// Write the venv's skeleton: `pyvenv.cfg`, `bin/python*` links to the base's interpreter
    /// (as the container sees it), an empty site-packages, `lib64 -> lib`.
    pub(crate) fn create(&self) -> Result<(), RootError> {
        let dir = self.dir();
        let root = &self.root;
        let (major, minor) = self.python;
        create_dirs(root, &dir.join(self.site_packages_rel()))?;
        create_dirs(root, &dir.join("bin"))?;
        create_dirs(root, &dir.join("include"))?;
        write_file(
            root,
            &dir.join("pyvenv.cfg"),
            format!(
                "home = /usr/bin\ninclude-system-site-packages = false\nversion = {}\nexecutable = /usr/bin/python{major}.{minor}\ncommand = /usr/bin/python{major}.{minor} -m venv {}\n",
                self.python_full, self.prefix
            )
            .as_bytes(),
            false,
        )?;
        let link = |target: &str, name: &str| -> Result<(), RootError> {
            let path = dir.join("bin").join(name);
            if root.exists(&path) {
                Ok(())
            } else {
                root.symlink(Path::new(target), &path)
            }
        };
        link(
            &format!("/usr/bin/python{major}.{minor}"),
            &format!("python{major}.{minor}"),
        )?;
        link(&format!("python{major}.{minor}"), &format!("python{major}"))?;
        link(&format!("python{major}"), "python")?;
        if !root.exists(&dir.join("lib64")) {
            root.symlink(Path::new("lib"), &dir.join("lib64"))?;
        }
        Ok(())
    }

    /// Install one wheel. `requested`: it is a top-level requirement (gets `REQUESTED`).
    pub(crate) fn install_wheel(&self, path: &Path, requested: bool) -> Result<Installed, InstallError> {
        let mut wheel = Wheel::open(path)?;
        let mut placed = Placed::default();
        self.place_members(&mut wheel, &mut placed)?;
        self.write_launchers(&mut wheel, &mut placed)?;
        self.write_installer_files(&wheel, requested, &mut placed)?;
        let (record_path, record_sha256) = self.write_record(&wheel, &placed)?;
        let mut files: Vec<String> = placed.recorded.into_keys().collect();
        files.push(record_path);
        files.sort();
        placed.scripts.sort();
        Ok(Installed {
            name: wheel.name,
            version: wheel.version,
            files,
            scripts: placed.scripts,
            record_sha256,
            deferred: placed.deferred,
        })
    }

    /// Every member into its place (or deferred to the archive), checked against the RECORD.
    fn place_members(&self, wheel: &mut Wheel, placed: &mut Placed) -> Result<(), InstallError> {
        let shown = wheel.shown.clone();
        let venv = self.dir();
        let data_dir = wheel.data_dir();
        let dist_info = wheel.dist_info.clone();
        let mut folder: Option<(PathBuf, Option<lastmile_fs::Folder<'_>>)> = None;
        for index in 0..wheel.zip.len() {
            let mut entry = wheel
                .zip
                .by_index(index)
                .map_err(|e| bad(&shown, e.to_string()))?;
            let member = entry.name().to_owned();
            if entry.is_dir() {
                continue;
            }
            check_member(&member, &shown)?;
            if entry.unix_mode().is_some_and(|m| m & 0o170000 == 0o120000) {
                return Err(bad(
                    &shown,
                    format!("{member}: a link; wheels may only hold files"),
                ));
            }
            if is_record(&dist_info, &member) {
                continue;
            }
            let declared = entry.size();
            let executable = entry.unix_mode().is_some_and(|m| m & 0o111 != 0);
            let (target, is_script) = self.target_of(&member, &data_dir, &wheel.name, &shown)?;
            let path = venv.join(&target);
            if is_script {
                // Scripts are rewritten (their `#!python`), so they are read whole; they are small.
                let data = read_script(&mut entry, &member, &shown)?;
                drop(entry);
                wheel.check_hash(&member, &record::hash_of(&data))?;
                placed.scripts.push(target.trim_start_matches("bin/").to_owned());
                let data = launchers::rewrite_shebang(data, &self.python_in_container());
                write_file(&self.root, &path, &data, true)?;
                placed.record(target, &data);
                continue;
            }
            let mode = if executable { 0o755 } else { 0o644 };
            let deferred = |sha256, size| Deferred {
                wheel: wheel.path.clone(),
                index,
                size,
                mode,
                sha256,
                member: member.clone(),
                wheel_sha256: None,
            };
            if self.defer
                && let Some(sha256) = wheel::recorded_sha256(&wheel.expected, &member)
            {
                // Left in the wheel, read (and checked) once, by the archive; its folder is not
                // made on disk either (the archive writes it). See clear_in_folder.
                drop(entry);
                self.clear_in_folder(&mut folder, &path)?;
                let hash = record::hash_of_digest(&sha256);
                placed.deferred.push((path, deferred(sha256, declared)));
                placed.recorded.insert(target, (hash, declared));
                continue;
            }
            let (sha256, size) = self.stream(&mut entry, &path, mode, &shown)?;
            drop(entry);
            if size != declared {
                return Err(bad(
                    &shown,
                    format!("{member}: the zip says {declared} bytes, it holds {size}"),
                ));
            }
            let hash = record::hash_of_digest(&sha256);
            wheel.check_hash(&member, &hash)?;
            if self.defer {
                placed.deferred.push((path, deferred(sha256, size)));
            }
            placed.recorded.insert(target, (hash, size));
        }
        Ok(())
    }

    /// Remove whatever is at `path` (a member left in its wheel takes its place), through its
    /// folder opened once for all the members in it (if it is there at all).
    fn clear_in_folder<'r>(
        &'r self,
        folder: &mut Option<(PathBuf, Option<lastmile_fs::Folder<'r>>)>,
        path: &Path,
    ) -> Result<(), InstallError> {
        let parent = path.parent().expect("a member has a folder");
        if folder.as_ref().is_none_or(|(rel, _)| rel != parent) {
            *folder = Some((parent.to_path_buf(), self.root.existing_folder(parent)?));
        }
        let name = path.file_name().expect("a member has a name");
        if let Some((_, Some(open))) = folder.as_ref() {
            open.remove_file(name)?;
        }
        Ok(())
    }

    /// Any member but a script streams: hashed as it is read (and written, unless it stays in
    /// the wheel until the archive), never held in memory whole, whatever size it claims.
    /// Its sha256 and size.
    fn stream(
        &self,
        entry: &mut zip::read::ZipFile<'_, std::io::BufReader<std::fs::File>>,
        path: &Path,
        mode: u32,
        shown: &str,
    ) -> Result<(Sha256, u64), InstallError> {
        let io = |e: std::io::Error| InstallError::Io(e, shown.to_owned());
        let declared = entry.size();
        let mut reader = Hashing {
            inner: entry.take(declared.saturating_add(1)),
            hasher: lastmile_fs::Sha256Writer::new(std::io::sink()),
        };
        if self.defer {
            create_dirs(&self.root, path.parent().expect("a member has a folder"))?;
            remove_if_there(&self.root, path)?;
            std::io::copy(&mut reader, &mut std::io::sink()).map_err(io)?;
        } else {
            let mut file = self.root.create(path, mode)?;
            std::io::copy(&mut reader, &mut file).map_err(io)?;
        }
        let Hashing { hasher, .. } = reader;
        let (sha256, size, _) = hasher.finish();
        Ok((sha256, size))
    }

    /// Where a member goes, relative to the venv, and whether it is a script.
    fn target_of(
        &self,
        member: &str,
        data_dir: &str,
        name: &str,
        shown: &str,
    ) -> Result<(String, bool), InstallError> {
        let site = self.site_packages_rel();
        let Some(rest) = member.strip_prefix(data_dir) else {
            return Ok((format!("{site}/{member}"), false));
        };
        let (scheme, path) = rest
            .split_once('/')
            .ok_or_else(|| bad(shown, format!("{member}: no scheme folder")))?;
        Ok(match scheme {
            "purelib" | "platlib" => (format!("{site}/{path}"), false),
            "scripts" => (format!("bin/{path}"), true),
            "headers" => (
                format!(
                    "include/site/python{}.{}/{name}/{path}",
                    self.python.0, self.python.1
                ),
                false,
            ),
            "data" => (path.to_owned(), false),
            other => return Err(bad(shown, format!("{member}: unknown .data scheme {other:?}"))),
        })
    }

    /// Launchers for `console_scripts` and `gui_scripts`.
    fn write_launchers(&self, wheel: &mut Wheel, placed: &mut Placed) -> Result<(), InstallError> {
        let name = format!("{}/entry_points.txt", wheel.dist_info);
        let Ok(text) = wheel.member(&name) else {
            return Ok(());
        };
        let shown = &wheel.shown;
        let location = lastmile_fs::Location::file(format!("{shown}!{name}"));
        let groups = lastmile_python::entry_points::parse(&String::from_utf8_lossy(&text), &location)
            .map_err(|e| bad(shown, e.to_string()))?;
        for group in ["console_scripts", "gui_scripts"] {
            for (script, target) in groups.get(group).into_iter().flatten() {
                if script.contains('/') || script.is_empty() || script.starts_with('.') {
                    return Err(bad(
                        shown,
                        format!("entry point {script:?}: not a plain script name"),
                    ));
                }
                let launcher = launchers::launcher(&self.python_in_container(), target).ok_or_else(|| {
                    bad(
                        shown,
                        format!("entry point {script} = {target:?}: expected module:object"),
                    )
                })?;
                let path = format!("bin/{script}");
                write_file(&self.root, &self.dir().join(&path), launcher.as_bytes(), true)?;
                placed.record(path, launcher.as_bytes());
                placed.scripts.push(script.clone());
            }
        }
        Ok(())
    }

    /// `INSTALLER`, and `REQUESTED` for a top-level requirement.
    fn write_installer_files(
        &self,
        wheel: &Wheel,
        requested: bool,
        placed: &mut Placed,
    ) -> Result<(), InstallError> {
        let info = format!("{}/{}", self.site_packages_rel(), wheel.dist_info);
        for (file, contents) in [("INSTALLER", "lastmile\n"), ("REQUESTED", "")] {
            if file == "REQUESTED" && !requested {
                continue;
            }
            let path = format!("{info}/{file}");
            write_file(&self.root, &self.dir().join(&path), contents.as_bytes(), false)?;
            placed.record(path, contents.as_bytes());
        }
        Ok(())
    }

    /// The installed distribution's `RECORD`, sorted, paths relative to site-packages. Returns
    /// its path in the venv and its sha256.
    fn write_record(&self, wheel: &Wheel, placed: &Placed) -> Result<(String, Sha256), InstallError> {
        let site = self.site_packages_rel();
        let up = "../".repeat(site.matches('/').count() + 1);
        let relative = |path: &str| match path.strip_prefix(&format!("{site}/")) {
            Some(inside) => inside.to_owned(),
            None => format!("{up}{path}"),
        };
        let record_path = format!("{site}/{}/RECORD", wheel.dist_info);
        let mut lines: Vec<String> = placed
            .recorded
            .iter()
            .map(|(path, (hash, size))| record::format_row(&relative(path), Some((hash, *size))))
            .collect();
        lines.push(record::format_row(&relative(&record_path), None));
        lines.sort();
        let mut text = lines.join("\n");
        text.push('\n');
        write_file(&self.root, &self.dir().join(&record_path), text.as_bytes(), false)?;
        Ok((record_path, Sha256::of(text.as_bytes())))
    }
}

/// The most a script (`.data/scripts`) may hold: it is read whole to rewrite its first line.
const MAX_SCRIPT: u64 = 16 << 20;

/// A script member, read whole (at most [`MAX_SCRIPT`] bytes).
fn read_script(entry: &mut impl Read, member: &str, shown: &str) -> Result<Vec<u8>, InstallError> {
    let mut data = Vec::new();
    entry
        .take(MAX_SCRIPT + 1)
        .read_to_end(&mut data)
        .map_err(|e| InstallError::Io(e, shown.to_owned()))?;
    if data.len() as u64 > MAX_SCRIPT {
        return Err(bad(
            shown,
            format!("{member}: a script larger than {MAX_SCRIPT} bytes"),
        ));
    }
    Ok(data)
}

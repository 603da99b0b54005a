//! Install wheels into a virtual environment inside a root filesystem, natively, as the binary
//! distribution format says: root files and `.data/purelib|platlib` into site-packages,
//! `.data/scripts` into `bin/` with `#!python` rewritten, `.data/headers` and `.data/data` into
//! their places, console and GUI launchers from `entry_points.txt`, `INSTALLER`, `REQUESTED` for
//! top-level requirements, and a regenerated, sorted `RECORD`. Every file is checked against the
//! wheel's own `RECORD` while it is written. Entries with absolute paths, `..`, or links are refused.
//! Modes are fixed (0644, or 0755 for executables), never the umask's.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use base64::Engine;
use sha2::{Digest, Sha256};

/// A virtual environment being built inside a root filesystem.
#[derive(Debug, Clone)]
pub(crate) struct Venv {
    /// The root filesystem on the host.
    pub(crate) rootfs: PathBuf,
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
    /// sha256 (hex) of the RECORD written.
    pub(crate) record_sha256: String,
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
}

fn record_hash(bytes_hash: &[u8]) -> String {
    format!(
        "sha256={}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes_hash)
    )
}

fn write_file(path: &Path, data: &[u8], executable: bool) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        create_dirs(parent)?;
    }
    let mode = if executable { 0o755 } else { 0o644 };
    // A new file, never a write through a hard link to the base.
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    file.write_all(data)?;
    // The umask may have narrowed the mode at creation: set it exactly.
    file.set_permissions(std::fs::Permissions::from_mode(mode))
}

/// Create folders with mode 0755 whatever the umask.
fn create_dirs(path: &Path) -> std::io::Result<()> {
    if path.is_dir() {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        create_dirs(parent)?;
    }
    match std::fs::create_dir(path) {
        Ok(()) => std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

impl Venv {
    /// The venv on the host.
    pub(crate) fn dir(&self) -> PathBuf {
        self.rootfs.join(self.prefix.trim_start_matches('/'))
    }

    pub(crate) fn site_packages_rel(&self) -> String {
        format!("lib/python{}.{}/site-packages", self.python.0, self.python.1)
    }

    fn python_in_container(&self) -> String {
        format!("{}/bin/python", self.prefix)
    }

    /// Write the venv's skeleton: `pyvenv.cfg`, `bin/python*` links to the base's interpreter
    /// (as the container sees it), an empty site-packages, `lib64 -> lib`.
    pub(crate) fn create(&self) -> std::io::Result<()> {
        let dir = self.dir();
        let (major, minor) = self.python;
        create_dirs(&dir.join(self.site_packages_rel()))?;
        create_dirs(&dir.join("bin"))?;
        create_dirs(&dir.join("include"))?;
        write_file(
            &dir.join("pyvenv.cfg"),
            format!(
                "home = /usr/bin\ninclude-system-site-packages = false\nversion = {}\nexecutable = /usr/bin/python{major}.{minor}\ncommand = /usr/bin/python{major}.{minor} -m venv {}\n",
                self.python_full, self.prefix
            )
            .as_bytes(),
            false,
        )?;
        let link = |target: &str, name: &str| -> std::io::Result<()> {
            let path = dir.join("bin").join(name);
            match std::fs::symlink_metadata(&path) {
                Ok(_) => Ok(()),
                Err(_) => std::os::unix::fs::symlink(target, path),
            }
        };
        link(
            &format!("/usr/bin/python{major}.{minor}"),
            &format!("python{major}.{minor}"),
        )?;
        link(&format!("python{major}.{minor}"), &format!("python{major}"))?;
        link(&format!("python{major}"), "python")?;
        if std::fs::symlink_metadata(dir.join("lib64")).is_err() {
            std::os::unix::fs::symlink("lib", dir.join("lib64"))?;
        }
        Ok(())
    }

    /// Install one wheel. `requested`: it is a top-level requirement (gets `REQUESTED`).
    pub(crate) fn install_wheel(&self, wheel: &Path, requested: bool) -> Result<Installed, InstallError> {
        let shown = wheel.display().to_string();
        let io = |e: std::io::Error| InstallError::Io(e, shown.clone());
        let file = std::fs::File::open(wheel).map_err(io)?;
        let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file))
            .map_err(|e| bad(&shown, format!("not a wheel (zip): {e}")))?;
        let names: Vec<String> = zip.file_names().map(str::to_owned).collect();
        let dist_info = names
            .iter()
            .filter_map(|n| n.strip_suffix("/WHEEL"))
            .find(|d| d.ends_with(".dist-info") && !d.contains('/'))
            .ok_or_else(|| bad(&shown, "no *.dist-info/WHEEL"))?
            .to_owned();
        let stem = dist_info.trim_end_matches(".dist-info").to_owned();
        let (name, version) = stem
            .split_once('-')
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .ok_or_else(|| bad(&shown, format!("{dist_info}: not NAME-VERSION.dist-info")))?;
        let data_dir = format!("{stem}.data/");
        let record = read_member(&mut zip, &format!("{dist_info}/RECORD"), &shown)?;
        let expected = parse_record(&String::from_utf8_lossy(&record));

        let venv = self.dir();
        let site = self.site_packages_rel();
        let mut recorded: BTreeMap<String, (String, u64)> = BTreeMap::new();
        let mut scripts = Vec::new();
        let mut deferred = Vec::new();
        for index in 0..zip.len() {
            let mut entry = zip.by_index(index).map_err(|e| bad(&shown, e.to_string()))?;
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
            if member == format!("{dist_info}/RECORD")
                || member.ends_with("/RECORD.jws")
                || member.ends_with("/RECORD.p7s")
            {
                continue;
            }
            let mut data = Vec::with_capacity(entry.size() as usize);
            entry.read_to_end(&mut data).map_err(io)?;
            let digest = Sha256::digest(&data);
            match expected.get(&member) {
                Some(Some(want)) if *want != record_hash(&digest) => {
                    return Err(bad(
                        &shown,
                        format!(
                            "{member}: its hash does not match the wheel's RECORD; the wheel is corrupt or was altered"
                        ),
                    ));
                }
                Some(_) => {}
                None => return Err(bad(&shown, format!("{member}: not listed in the wheel's RECORD"))),
            }
            let executable = entry.unix_mode().is_some_and(|m| m & 0o111 != 0);
            // Where the member goes, relative to the venv.
            let (target, is_script) = match member.strip_prefix(&data_dir) {
                Some(rest) => {
                    let (scheme, path) = rest
                        .split_once('/')
                        .ok_or_else(|| bad(&shown, format!("{member}: no scheme folder")))?;
                    match scheme {
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
                        other => {
                            return Err(bad(&shown, format!("{member}: unknown .data scheme {other:?}")));
                        }
                    }
                }
                None => (format!("{site}/{member}"), false),
            };
            let data = if is_script {
                scripts.push(target.trim_start_matches("bin/").to_owned());
                rewrite_shebang(data, &self.python_in_container())
            } else {
                data
            };
            if self.defer && !is_script {
                let path = venv.join(&target);
                let parent = path.parent().expect("a member has a folder");
                create_dirs(parent).map_err(io)?;
                match std::fs::remove_file(&path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
                    _ => {}
                }
                let in_rootfs = path
                    .strip_prefix(&self.rootfs)
                    .expect("the venv is inside the root filesystem")
                    .to_path_buf();
                deferred.push((
                    in_rootfs,
                    Deferred {
                        wheel: wheel.to_path_buf(),
                        index,
                        size: data.len() as u64,
                        mode: if executable { 0o755 } else { 0o644 },
                    },
                ));
                recorded.insert(target, (record_hash(&digest), data.len() as u64));
                continue;
            }
            write_file(&venv.join(&target), &data, executable || is_script).map_err(io)?;
            let digest = Sha256::digest(&data);
            recorded.insert(target, (record_hash(&digest), data.len() as u64));
        }
        // Launchers for console_scripts and gui_scripts.
        if let Ok(text) = read_member(&mut zip, &format!("{dist_info}/entry_points.txt"), &shown) {
            let location =
                lastmile_core::location::Location::file(format!("{shown}!{dist_info}/entry_points.txt"));
            let groups = lastmile_core::entry_points::parse(&String::from_utf8_lossy(&text), &location)
                .map_err(|e| bad(&shown, e.to_string()))?;
            for group in ["console_scripts", "gui_scripts"] {
                for (script, target) in groups.get(group).into_iter().flatten() {
                    if script.contains('/') || script.is_empty() || script.starts_with('.') {
                        return Err(bad(
                            &shown,
                            format!("entry point {script:?}: not a plain script name"),
                        ));
                    }
                    let launcher = launcher(&self.python_in_container(), target).ok_or_else(|| {
                        bad(
                            &shown,
                            format!("entry point {script} = {target:?}: expected module:object"),
                        )
                    })?;
                    let path = format!("bin/{script}");
                    write_file(&venv.join(&path), launcher.as_bytes(), true).map_err(io)?;
                    recorded.insert(
                        path,
                        (
                            record_hash(&Sha256::digest(launcher.as_bytes())),
                            launcher.len() as u64,
                        ),
                    );
                    scripts.push(script.clone());
                }
            }
        }
        let info = format!("{site}/{dist_info}");
        for (file, contents) in [("INSTALLER", "lastmile\n"), ("REQUESTED", "")] {
            if file == "REQUESTED" && !requested {
                continue;
            }
            let path = format!("{info}/{file}");
            write_file(&venv.join(&path), contents.as_bytes(), false).map_err(io)?;
            recorded.insert(
                path,
                (
                    record_hash(&Sha256::digest(contents.as_bytes())),
                    contents.len() as u64,
                ),
            );
        }
        // RECORD paths are relative to site-packages.
        let up = "../".repeat(site.matches('/').count() + 1);
        let relative = |path: &str| match path.strip_prefix(&format!("{site}/")) {
            Some(inside) => inside.to_owned(),
            None => format!("{up}{path}"),
        };
        let record_path = format!("{info}/RECORD");
        let mut lines: Vec<String> = recorded
            .iter()
            .map(|(path, (hash, size))| format!("{},{hash},{size}", csv_field(&relative(path))))
            .collect();
        lines.push(format!("{},,", csv_field(&relative(&record_path))));
        lines.sort();
        let mut record_text = lines.join("\n");
        record_text.push('\n');
        write_file(&venv.join(&record_path), record_text.as_bytes(), false).map_err(io)?;
        let mut files: Vec<String> = recorded.into_keys().collect();
        files.push(record_path);
        files.sort();
        scripts.sort();
        Ok(Installed {
            name,
            version,
            files,
            scripts,
            record_sha256: format!("{:x}", Sha256::digest(record_text.as_bytes())),
            deferred,
        })
    }
}

fn read_member<R: Read + std::io::Seek>(
    zip: &mut zip::ZipArchive<R>,
    name: &str,
    shown: &str,
) -> Result<Vec<u8>, InstallError> {
    let mut entry = zip
        .by_name(name)
        .map_err(|_| bad(shown, format!("no {name} in the wheel")))?;
    let mut data = Vec::new();
    entry
        .read_to_end(&mut data)
        .map_err(|e| InstallError::Io(e, shown.to_owned()))?;
    Ok(data)
}

/// Refuse member names that would land outside the venv.
fn check_member(member: &str, shown: &str) -> Result<(), InstallError> {
    let path = Path::new(member);
    let escapes = member.starts_with('/')
        || member.contains('\\')
        || member.contains('\0')
        || path.components().any(|c| !matches!(c, Component::Normal(_)));
    if escapes {
        return Err(bad(
            shown,
            format!(
                "{member:?}: an absolute path or `..` in a wheel entry; refusing to install outside the venv"
            ),
        ));
    }
    Ok(())
}

/// RECORD rows: path → `sha256=...` (None for rows without a hash, like RECORD itself).
fn parse_record(text: &str) -> BTreeMap<String, Option<String>> {
    let mut rows = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (path, rest) = if let Some(quoted) = line.strip_prefix('"') {
            match quoted.split_once("\",") {
                Some((path, rest)) => (path.replace("\"\"", "\""), rest),
                None => continue,
            }
        } else {
            match line.split_once(',') {
                Some((path, rest)) => (path.to_owned(), rest),
                None => continue,
            }
        };
        let hash = rest
            .split(',')
            .next()
            .filter(|h| !h.is_empty())
            .map(str::to_owned);
        rows.insert(path, hash);
    }
    rows
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// `#!python` (and `#!pythonw`) become the venv's interpreter.
fn rewrite_shebang(data: Vec<u8>, python: &str) -> Vec<u8> {
    for marker in [&b"#!pythonw"[..], b"#!python"] {
        if let Some(rest) = data.strip_prefix(marker)
            && matches!(rest.first(), Some(b'\n' | b'\r' | b' '))
        {
            let mut out = format!("#!{python}").into_bytes();
            out.extend_from_slice(rest);
            return out;
        }
    }
    data
}

/// A console-script launcher for `module:object.attr`, as pip writes them.
fn launcher(python: &str, target: &str) -> Option<String> {
    let target = target.split('[').next()?.trim();
    let (module, object) = target.split_once(':')?;
    let (module, object) = (module.trim(), object.trim());
    if module.is_empty() || object.is_empty() {
        return None;
    }
    let head = object.split('.').next()?;
    Some(format!(
        "#!{python}\n# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom {module} import {head}\nif __name__ == \"__main__\":\n    sys.argv[0] = re.sub(r\"(-script\\.pyw|\\.exe)?$\", \"\", sys.argv[0])\n    sys.exit({object}())\n"
    ))
}

/// Write deferred files out (for steps that need the real tree, like `--compile-bytecode`).
pub(crate) fn materialize(rootfs: &Path, deferred: &BTreeMap<PathBuf, Deferred>) -> std::io::Result<()> {
    let mut zips: HashMap<PathBuf, zip::ZipArchive<std::io::BufReader<std::fs::File>>> = HashMap::new();
    for (path, file) in deferred {
        let zip = open_zip(&mut zips, &file.wheel)?;
        let mut entry = zip.by_index(file.index).map_err(std::io::Error::other)?;
        let mut data = Vec::with_capacity(file.size as usize);
        entry.read_to_end(&mut data)?;
        write_file(&rootfs.join(path), &data, file.mode & 0o111 != 0)?;
    }
    Ok(())
}

/// A wheel's zip, opened once per run.
pub(crate) fn open_zip<'a>(
    zips: &'a mut HashMap<PathBuf, zip::ZipArchive<std::io::BufReader<std::fs::File>>>,
    wheel: &Path,
) -> std::io::Result<&'a mut zip::ZipArchive<std::io::BufReader<std::fs::File>>> {
    if !zips.contains_key(wheel) {
        let file = std::fs::File::open(wheel)?;
        let zip = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(std::io::Error::other)?;
        zips.insert(wheel.to_path_buf(), zip);
    }
    Ok(zips.get_mut(wheel).expect("just inserted"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_outside_the_venv_are_refused() {
        for member in ["/etc/passwd", "../../etc/passwd", "pkg/../../x", "a\\b"] {
            assert!(check_member(member, "w.whl").is_err(), "{member}");
        }
        assert!(check_member("pkg/__init__.py", "w.whl").is_ok());
    }

    #[test]
    fn launchers_and_shebangs() {
        let text = launcher("/opt/v/bin/python", "katcp.server:Server.main [extra]").unwrap();
        assert!(text.starts_with("#!/opt/v/bin/python\n"));
        assert!(text.contains("from katcp.server import Server\n"));
        assert!(text.contains("sys.exit(Server.main())"));
        assert!(launcher("/p", "nocolon").is_none());
        assert_eq!(
            rewrite_shebang(b"#!python\nprint(1)\n".to_vec(), "/v/bin/python"),
            b"#!/v/bin/python\nprint(1)\n"
        );
        assert_eq!(
            rewrite_shebang(b"#!/bin/sh\n".to_vec(), "/v/bin/python"),
            b"#!/bin/sh\n"
        );
    }

    #[test]
    fn record_rows_with_quotes() {
        let rows = parse_record("a/b.py,sha256=x,3\n\"c,d.py\",sha256=y,4\nRECORD,,\n");
        assert_eq!(rows["a/b.py"].as_deref(), Some("sha256=x"));
        assert_eq!(rows["c,d.py"].as_deref(), Some("sha256=y"));
        assert_eq!(rows["RECORD"], None);
    }
}

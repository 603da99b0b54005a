//! A root filesystem being made (an image's staging tree, a container's rootfs), with every read
//! and write confined to it.
//!
//! A base image is input like any other: its links may point anywhere on the host (`opt ->
//! /srv/opt`, `etc/lastmile -> /etc`). Writes therefore refuse to pass through any link: every
//! folder on the way to a written path must be a real folder of the tree (created here when
//! missing), and a link at the written path itself is replaced, never followed. Reads resolve
//! links the way the tree's own system will see them, inside the tree (`RESOLVE_IN_ROOT`), take
//! regular files only and at most a given size. Every path the writes create is remembered, so
//! the archive can tell what the bake made from what the base brought.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};

/// A write or read that would leave the tree, or could not be done.
#[derive(Debug, thiserror::Error)]
pub enum RootError {
    /// A folder on the way to a written path is a link (to where it points).
    #[error(
        "{root}: /{link} is a link (to {target}); lastmile writes only through real folders of a root filesystem, so it cannot write /{path}"
    )]
    LinkInPath {
        root: String,
        link: String,
        target: String,
        path: String,
    },
    /// The path is not relative and plain (`..`, absolute).
    #[error("{root}: {path:?} is not a plain path inside the root filesystem")]
    NotInside { root: String, path: String },
    /// A read of something that is not a regular file (a device, a FIFO, a folder).
    #[error("{root}: /{path} is not a regular file; not read")]
    NotAFile { root: String, path: String },
    /// A read past the limit.
    #[error("{root}: /{path} is larger than {limit} bytes; not read")]
    TooLarge { root: String, path: String, limit: u64 },
    #[error("{root}: /{path}: {source}")]
    Io {
        root: String,
        path: String,
        #[source]
        source: io::Error,
    },
}

/// A folder inside a [`Root`], open (see [`Root::folder`]).
#[derive(Debug)]
pub struct Folder<'a> {
    root: &'a Root,
    fd: OwnedFd,
    rel: PathBuf,
}

impl Folder<'_> {
    /// Where it is, relative to the root.
    pub fn rel(&self) -> &Path {
        &self.rel
    }

    /// Remove the file or link `name` in it if there is one (never what a link points to).
    pub fn remove_file(&self, name: &std::ffi::OsStr) -> Result<(), RootError> {
        match rustix::fs::unlinkat(&self.fd, name, AtFlags::empty()) {
            Ok(()) | Err(rustix::io::Errno::NOENT) => Ok(()),
            Err(e) => Err(self.root.io(&self.rel.join(name), e)),
        }
    }
}

impl RootError {
    /// Whether the error is a missing file or folder.
    pub fn is_not_found(&self) -> bool {
        matches!(self, RootError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }
}

/// A root filesystem folder; see the module's documentation.
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
    path: PathBuf,
    made: Mutex<BTreeSet<PathBuf>>,
}

impl Root {
    /// Open a root filesystem folder (the folder itself may be reached through links).
    pub fn open(path: &Path) -> io::Result<Self> {
        let fd = rustix::fs::open(
            path,
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Self {
            fd,
            path: path.to_path_buf(),
            made: Mutex::default(),
        })
    }

    /// The folder on the host.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every path (relative to the root) that a write here created or replaced.
    pub fn made(&self) -> BTreeSet<PathBuf> {
        self.made.lock().expect("made lock").clone()
    }

    fn shown(&self) -> String {
        self.path.display().to_string()
    }

    fn io(&self, path: &Path, source: impl Into<io::Error>) -> RootError {
        RootError::Io {
            root: self.shown(),
            path: path.display().to_string(),
            source: source.into(),
        }
    }

    /// The plain components of `rel` (a path inside the root; a leading `/` is allowed and means
    /// the root).
    fn components(&self, rel: &Path) -> Result<Vec<OsString>, RootError> {
        let mut parts = Vec::new();
        for component in rel.components() {
            match component {
                Component::RootDir | Component::CurDir => {}
                Component::Normal(part) => parts.push(part.to_os_string()),
                Component::ParentDir | Component::Prefix(_) => {
                    return Err(RootError::NotInside {
                        root: self.shown(),
                        path: rel.display().to_string(),
                    });
                }
            }
        }
        Ok(parts)
    }

    fn record(&self, rel: PathBuf) {
        self.made.lock().expect("made lock").insert(rel);
    }

    /// Open the folder `parts` (each a real folder, none a link), creating missing ones (mode
    /// 0755, whatever the umask) when `create`.
    fn dir(&self, parts: &[OsString], create: bool, target: &Path) -> Result<OwnedFd, RootError> {
        let mut current = rustix::io::dup(&self.fd).map_err(|e| self.io(Path::new(""), e))?;
        let mut so_far = PathBuf::new();
        for part in parts {
            so_far.push(part);
            let flags = OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC;
            current = match rustix::fs::openat(&current, part.as_os_str(), flags, Mode::empty()) {
                Ok(fd) => fd,
                Err(rustix::io::Errno::NOENT) if create => {
                    match rustix::fs::mkdirat(&current, part.as_os_str(), Mode::from_raw_mode(0o755)) {
                        Ok(()) => self.record(so_far.clone()),
                        Err(rustix::io::Errno::EXIST) => {}
                        Err(e) => return Err(self.io(&so_far, e)),
                    }
                    let fd = rustix::fs::openat(&current, part.as_os_str(), flags, Mode::empty())
                        .map_err(|e| self.io(&so_far, e))?;
                    rustix::fs::fchmod(&fd, Mode::from_raw_mode(0o755)).map_err(|e| self.io(&so_far, e))?;
                    fd
                }
                Err(rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR) => {
                    return Err(self.not_a_folder(&current, part, &so_far, target));
                }
                Err(e) => return Err(self.io(&so_far, e)),
            };
        }
        Ok(current)
    }

    /// The error for a path component that is not a real folder: a link (named with its target)
    /// or a file.
    fn not_a_folder(&self, parent: &OwnedFd, part: &OsString, so_far: &Path, target: &Path) -> RootError {
        match rustix::fs::readlinkat(parent, part.as_os_str(), Vec::new()) {
            Ok(link) => RootError::LinkInPath {
                root: self.shown(),
                link: so_far.display().to_string(),
                target: link.to_string_lossy().into_owned(),
                path: target.display().to_string(),
            },
            Err(_) => self.io(
                so_far,
                io::Error::new(io::ErrorKind::NotADirectory, "not a folder"),
            ),
        }
    }

    /// The folder holding `rel` (created when `create`) and `rel`'s last component.
    fn parent(&self, rel: &Path, create: bool) -> Result<(OwnedFd, OsString), RootError> {
        let mut parts = self.components(rel)?;
        let name = parts.pop().ok_or_else(|| RootError::NotInside {
            root: self.shown(),
            path: rel.display().to_string(),
        })?;
        Ok((self.dir(&parts, create, rel)?, name))
    }

    /// Create `rel` and its missing parents as folders (0755), never through a link.
    pub fn create_dir_all(&self, rel: &Path) -> Result<(), RootError> {
        let parts = self.components(rel)?;
        self.dir(&parts, true, rel).map(drop)
    }

    /// Create the parents of `rel` (0755), never through a link.
    pub fn create_parents(&self, rel: &Path) -> Result<(), RootError> {
        self.parent(rel, true).map(drop)
    }

    /// The folder `rel`, created (0755) with its missing parents, never through a link; opened
    /// once to clear many of its entries without walking to it again for each.
    pub fn folder(&self, rel: &Path) -> Result<Folder<'_>, RootError> {
        let parts = self.components(rel)?;
        Ok(Folder {
            root: self,
            fd: self.dir(&parts, true, rel)?,
            rel: rel.to_path_buf(),
        })
    }

    /// The folder `rel` if it is there (never through a link), opened as [`Root::folder`] does;
    /// `None` if it is not.
    pub fn existing_folder(&self, rel: &Path) -> Result<Option<Folder<'_>>, RootError> {
        let parts = self.components(rel)?;
        match self.dir(&parts, false, rel) {
            Ok(fd) => Ok(Some(Folder {
                root: self,
                fd,
                rel: rel.to_path_buf(),
            })),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Remove the file or link at `rel` if there is one (never what a link points to).
    pub fn remove_file(&self, rel: &Path) -> Result<(), RootError> {
        let (dir, name) = match self.parent(rel, false) {
            Ok(found) => found,
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e),
        };
        match rustix::fs::unlinkat(&dir, name.as_os_str(), AtFlags::empty()) {
            Ok(()) | Err(rustix::io::Errno::NOENT) => Ok(()),
            Err(e) => Err(self.io(rel, e)),
        }
    }

    /// A new file at `rel` with exactly `mode` (replacing a file or link there, never writing
    /// through it), its parents created; the handle to write it.
    pub fn create(&self, rel: &Path, mode: u32) -> Result<std::fs::File, RootError> {
        let (dir, name) = self.parent(rel, true)?;
        match rustix::fs::unlinkat(&dir, name.as_os_str(), AtFlags::empty()) {
            Ok(()) | Err(rustix::io::Errno::NOENT) => {}
            Err(e) => return Err(self.io(rel, e)),
        }
        let fd = rustix::fs::openat(
            &dir,
            name.as_os_str(),
            OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(mode),
        )
        .map_err(|e| self.io(rel, e))?;
        // The umask may have narrowed the mode at creation: set it exactly.
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode)).map_err(|e| self.io(rel, e))?;
        self.record(self.normal(rel));
        Ok(std::fs::File::from(fd))
    }

    /// Write a new file at `rel` with exactly `mode` (see [`Root::create`]).
    pub fn write(&self, rel: &Path, contents: &[u8], mode: u32) -> Result<(), RootError> {
        let mut file = self.create(rel, mode)?;
        file.write_all(contents).map_err(|e| self.io(rel, e))
    }

    /// A symbolic link at `rel` to `target` (replacing a file or link there); its parents created.
    pub fn symlink(&self, target: &Path, rel: &Path) -> Result<(), RootError> {
        let (dir, name) = self.parent(rel, true)?;
        match rustix::fs::unlinkat(&dir, name.as_os_str(), AtFlags::empty()) {
            Ok(()) | Err(rustix::io::Errno::NOENT) => {}
            Err(e) => return Err(self.io(rel, e)),
        }
        rustix::fs::symlinkat(target, &dir, name.as_os_str()).map_err(|e| self.io(rel, e))?;
        self.record(self.normal(rel));
        Ok(())
    }

    /// Set the permission bits of the file or folder at `rel` (not of a link's target).
    pub fn set_mode(&self, rel: &Path, mode: u32) -> Result<(), RootError> {
        let fd = self.open_no_follow(rel)?;
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode)).map_err(|e| self.io(rel, e))
    }

    /// Make `rel` (a file, folder or link itself) owned by root, when running as root.
    pub fn chown_root(&self, rel: &Path) -> Result<(), RootError> {
        if !rustix::process::geteuid().is_root() {
            return Ok(());
        }
        let (dir, name) = self.parent(rel, false)?;
        rustix::fs::chownat(
            &dir,
            name.as_os_str(),
            Some(rustix::process::Uid::ROOT),
            Some(rustix::process::Gid::ROOT),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(|e| self.io(rel, e))
    }

    /// Whether something (a file, folder or link) is at `rel`, reached through real folders only.
    pub fn exists(&self, rel: &Path) -> bool {
        self.parent(rel, false)
            .and_then(|(dir, name)| {
                rustix::fs::statat(&dir, name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(|e| self.io(rel, e))
            })
            .is_ok()
    }

    /// The file or folder at `rel` itself (a link there is an error), for reading its mode.
    fn open_no_follow(&self, rel: &Path) -> Result<OwnedFd, RootError> {
        let (dir, name) = self.parent(rel, false)?;
        rustix::fs::openat(
            &dir,
            name.as_os_str(),
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
            Mode::empty(),
        )
        .map_err(|e| self.io(rel, e))
    }

    /// `rel` as the normal relative path the root records.
    fn normal(&self, rel: &Path) -> PathBuf {
        rel.components()
            .filter_map(|c| match c {
                Component::Normal(part) => Some(part),
                _ => None,
            })
            .collect()
    }

    /// Open `rel` to read, resolving links inside the root as its own system would (an absolute
    /// link is relative to the root, `..` stops at it); only a regular file.
    fn open_in_root(&self, rel: &Path) -> Result<std::fs::File, RootError> {
        let relative = self.normal(rel);
        let fd = rustix::fs::openat2(
            &self.fd,
            relative.as_os_str().as_bytes(),
            OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        )
        .map_err(|e| self.io(rel, e))?;
        let stat = rustix::fs::fstat(&fd).map_err(|e| self.io(rel, e))?;
        if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
            return Err(RootError::NotAFile {
                root: self.shown(),
                path: relative.display().to_string(),
            });
        }
        Ok(std::fs::File::from(fd))
    }

    /// Read the regular file at `rel` (links resolved inside the root), at most `limit` bytes.
    pub fn read(&self, rel: &Path, limit: u64) -> Result<Vec<u8>, RootError> {
        let file = self.open_in_root(rel)?;
        let mut bytes = Vec::new();
        file.take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| self.io(rel, e))?;
        if bytes.len() as u64 > limit {
            return Err(RootError::TooLarge {
                root: self.shown(),
                path: self.normal(rel).display().to_string(),
                limit,
            });
        }
        Ok(bytes)
    }

    /// [`Root::read`] as text (invalid UTF-8 replaced).
    pub fn read_text(&self, rel: &Path, limit: u64) -> Result<String, RootError> {
        Ok(String::from_utf8_lossy(&self.read(rel, limit)?).into_owned())
    }

    /// Whether a regular file is at `rel`, links resolved inside the root.
    pub fn is_file(&self, rel: &Path) -> bool {
        self.open_in_root(rel).is_ok()
    }

    /// Whether anything at all is at `rel`, links resolved inside the root (a dangling link
    /// counts, as `lstat` would see it).
    pub fn lexists(&self, rel: &Path) -> bool {
        let relative = self.normal(rel);
        let (parent, name) = match (relative.parent(), relative.file_name()) {
            (Some(parent), Some(name)) => (parent.to_path_buf(), name.to_os_string()),
            _ => return true,
        };
        let dir = if parent.as_os_str().is_empty() {
            rustix::io::dup(&self.fd).ok()
        } else {
            rustix::fs::openat2(
                &self.fd,
                parent.as_os_str().as_bytes(),
                OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
                Mode::empty(),
                ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
            )
            .ok()
        };
        dir.is_some_and(|dir| {
            rustix::fs::statat(dir.as_fd(), name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW).is_ok()
        })
    }

    /// The names in the folder `rel` (links resolved inside the root), sorted.
    pub fn list(&self, rel: &Path) -> Result<Vec<OsString>, RootError> {
        let relative = self.normal(rel);
        let target = if relative.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            relative.clone()
        };
        let fd = rustix::fs::openat2(
            &self.fd,
            target.as_os_str().as_bytes(),
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        )
        .map_err(|e| self.io(rel, e))?;
        let mut names = Vec::new();
        let mut dir = rustix::fs::Dir::read_from(&fd).map_err(|e| self.io(rel, e))?;
        while let Some(entry) = dir.read() {
            let entry = entry.map_err(|e| self.io(rel, e))?;
            let name = entry.file_name().to_bytes();
            if name != b"." && name != b".." {
                names.push(OsString::from(std::ffi::OsStr::from_bytes(name)));
            }
        }
        names.sort();
        Ok(names)
    }
}

#[cfg(test)]
mod tests;

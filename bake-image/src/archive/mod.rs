//! A root filesystem as a reproducible `.tar.gz`: the same tree always gives the same bytes.
//!
//! - entries sorted by path, component by component, each by its bytes (GNU tar's
//!   `--sort=name`: a directory before its contents, its subtree together), the root as `./`,
//!   everything else relative to it;
//! - modification times clamped to `SOURCE_DATE_EPOCH`; numeric owners kept, no user or group
//!   names; permission bits (setuid, setgid, sticky) kept; `security.capability` kept as a PAX
//!   `SCHILY.xattr` record;
//! - hard links as links to the first path, symlinks as links (never followed), device nodes,
//!   FIFOs and sockets left out (LXC makes `/dev`);
//! - gzip in pieces cut at entries the content chooses (at most 1 MiB), each a gzip member with
//!   mtime 0 and OS byte 3, compressed at a fixed level by the pinned `flate2` backend (zlib-rs),
//!   the pieces compressed side by side: the bytes do not depend on how many threads there are,
//!   and a piece an earlier image holds is copied from it ([`reuse`]): a wheel's files and the
//!   base's files go into the pieces by name ([`content`]), so a piece is known, and found,
//!   before any of it is read.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::base_files::BaseFiles;
use crate::install::Deferred;
pub(crate) use crate::tree::sorted_paths;

pub(crate) mod content;
mod gzip;
mod piece;
pub(crate) mod reuse;

pub(crate) use gzip::{EntryStarts, ParallelGz};

/// Where an entry's owner, mode and capability come from: never from who runs the bake. What the
/// bake made is owned by root (its mode is the one the bake set); anything else is what the base
/// says it is (read from the base folder when the base is one, so a bake that could not keep
/// owners and modes in its copy still records the base's).
#[derive(Debug, Default)]
pub(crate) struct Owners<'a> {
    pub(crate) made: BTreeSet<PathBuf>,
    pub(crate) base: Option<&'a Path>,
}

/// An entry's owner, group, mode and `security.capability`.
struct Meta {
    uid: u64,
    gid: u64,
    mode: u32,
    capability: Option<Vec<u8>>,
}

impl Owners<'_> {
    fn of(&self, relative: &Path, path: &Path, staged: &std::fs::Metadata) -> Meta {
        let capability = |at: &Path| {
            if staged.file_type().is_symlink() {
                None
            } else {
                xattr::get(at, "security.capability").ok().flatten()
            }
        };
        if self.made.contains(relative) {
            return Meta {
                uid: 0,
                gid: 0,
                mode: staged.mode() & 0o7777,
                capability: capability(path),
            };
        }
        if let Some(base) = self.base {
            let original = base.join(relative);
            if let Ok(meta) = std::fs::symlink_metadata(&original)
                && meta.file_type() == staged.file_type()
            {
                return Meta {
                    uid: u64::from(meta.uid()),
                    gid: u64::from(meta.gid()),
                    mode: meta.mode() & 0o7777,
                    capability: capability(&original),
                };
            }
        }
        Meta {
            uid: u64::from(staged.uid()),
            gid: u64::from(staged.gid()),
            mode: staged.mode() & 0o7777,
            capability: capability(path),
        }
    }
}

/// Where the archive's bytes come from besides the staging tree: the files left in their wheels
/// (paths relative to the root), the digests of the base's files, and earlier images whose
/// pieces may be copied.
#[derive(Debug, Default)]
pub(crate) struct Sources<'a> {
    pub(crate) deferred: BTreeMap<PathBuf, Deferred>,
    pub(crate) base_files: Option<&'a BaseFiles>,
    pub(crate) earlier: Option<std::sync::Arc<reuse::Earlier>>,
}

/// What went into the archive.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct ArchiveStats {
    pub(crate) entries: u64,
    pub(crate) bytes_in: u64,
    pub(crate) skipped_devices: u64,
}

/// Write `root` as a tar stream to `out`, with the deferred files read from their wheels: owned
/// by root, mtime `epoch`, in their place in the byte order, in place of a file on disk at the
/// same path.
pub(crate) fn write_tar<W: EntryStarts>(
    root: &Path,
    epoch: u64,
    sources: &Sources,
    owners: &Owners,
    out: W,
    progress: impl FnMut(u64),
) -> io::Result<ArchiveStats> {
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(false);
    let mut tar = TarWriter {
        builder,
        root,
        epoch,
        owners,
        base_files: sources.base_files,
        progress,
        stats: ArchiveStats::default(),
        first_of_inode: HashMap::new(),
    };
    // A BTreeMap of paths is already in archive order, and so is a BTreeSet.
    let mut from_wheels = sources.deferred.iter().peekable();
    let mut folders = implied_folders(&sources.deferred).into_iter().peekable();
    let mut on_disk = sorted_paths(root)?.into_iter().peekable();
    loop {
        lastmile_process::interrupt::check_io()?;
        // The next path in byte order: a deferred file replaces a file on disk at its path; a
        // folder on disk is the folder a deferred file implies.
        let disk = on_disk.peek().map(PathBuf::as_path);
        let wheel = from_wheels.peek().map(|(path, _)| path.as_path());
        let folder = folders.peek().map(PathBuf::as_path);
        let Some(next) = [disk, wheel, folder].into_iter().flatten().min() else {
            break;
        };
        let (is_disk, is_wheel, is_folder) = (disk == Some(next), wheel == Some(next), folder == Some(next));
        if is_folder && is_wheel {
            return Err(io::Error::other(format!(
                "{}: a wheel's file, and the folder of another wheel's files",
                next.display()
            )));
        }
        if is_folder {
            let folder = folders.next().expect("peeked");
            if !is_disk {
                tar.append_folder(&folder)?;
            } else if !std::fs::symlink_metadata(root.join(&folder))?.is_dir() {
                return Err(io::Error::other(format!(
                    "{}: a file or link where wheels' files need a folder",
                    folder.display()
                )));
            }
        } else if is_wheel {
            if is_disk {
                on_disk.next();
            }
            let (relative, file) = from_wheels.next().expect("peeked");
            tar.append_deferred(relative, file)?;
        } else {
            tar.append_on_disk(on_disk.next().expect("peeked"))?;
        }
    }
    tar.builder.into_inner()?.flush()?;
    Ok(tar.stats)
}

/// The folders the files left in their wheels are in (the install does not make them on disk).
fn implied_folders(deferred: &BTreeMap<PathBuf, Deferred>) -> BTreeSet<PathBuf> {
    let mut folders = BTreeSet::new();
    for path in deferred.keys() {
        for folder in path.ancestors().skip(1) {
            if folder.as_os_str().is_empty() || !folders.insert(folder.to_path_buf()) {
                break;
            }
        }
    }
    folders
}

/// The archive being written, and what it needs to write the next entry.
struct TarWriter<'a, W: EntryStarts, P: FnMut(u64)> {
    builder: tar::Builder<W>,
    root: &'a Path,
    epoch: u64,
    owners: &'a Owners<'a>,
    base_files: Option<&'a BaseFiles>,
    progress: P,
    stats: ArchiveStats,
    /// The first path of each inode with several links: the others become hard links to it.
    first_of_inode: HashMap<(u64, u64), PathBuf>,
}

impl<W: EntryStarts, P: FnMut(u64)> TarWriter<'_, W, P> {
    /// A folder of files left in their wheels, as the bake makes a folder: owned by root, 0755,
    /// at the epoch.
    fn append_folder(&mut self, relative: &Path) -> io::Result<()> {
        self.builder.get_mut().entry(relative, 0)?;
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o755);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(self.epoch);
        header.set_size(0);
        header.set_entry_type(tar::EntryType::Directory);
        let mut name = relative.as_os_str().to_owned();
        name.push("/");
        self.builder.append_data(&mut header, name, io::empty())?;
        self.stats.entries += 1;
        Ok(())
    }

    /// A file installed from a wheel: read back from it, owned by root, at the epoch.
    fn append_deferred(&mut self, relative: &Path, file: &Deferred) -> io::Result<()> {
        self.builder.get_mut().entry(relative, file.size)?;
        let mut header = tar::Header::new_gnu();
        header.set_mode(file.mode);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(self.epoch);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(file.size);
        self.append_content(&mut header, relative, content::Content::member(file))?;
        self.stats.bytes_in += file.size;
        self.stats.entries += 1;
        (self.progress)(file.size);
        Ok(())
    }

    /// A path of the staging tree, with the owner and mode of the base's file.
    fn append_on_disk(&mut self, relative: PathBuf) -> io::Result<()> {
        let path = self.root.join(&relative);
        let meta = std::fs::symlink_metadata(&path)?;
        let file_type = meta.file_type();
        let size = if file_type.is_file() { meta.len() } else { 0 };
        self.builder.get_mut().entry(&relative, size)?;
        let name: PathBuf = if relative.as_os_str().is_empty() {
            PathBuf::from("./")
        } else {
            relative.clone()
        };
        let owned = self.owners.of(&relative, &path, &meta);
        let mut header = tar::Header::new_gnu();
        header.set_mode(owned.mode);
        header.set_uid(owned.uid);
        header.set_gid(owned.gid);
        header.set_mtime((meta.mtime().max(0) as u64).min(self.epoch));
        header.set_size(0);
        if let Some(capability) = &owned.capability {
            self.builder
                .append_pax_extensions([("SCHILY.xattr.security.capability", capability.as_slice())])?;
        }
        if file_type.is_dir() {
            header.set_entry_type(tar::EntryType::Directory);
            let mut dir_name = name.into_os_string();
            if !dir_name.as_bytes().ends_with(b"/") {
                dir_name.push("/");
            }
            self.builder.append_data(&mut header, dir_name, io::empty())?;
        } else if file_type.is_symlink() {
            header.set_entry_type(tar::EntryType::Symlink);
            let target = std::fs::read_link(&path)?;
            self.builder.append_link(&mut header, &name, target)?;
        } else if file_type.is_file() {
            self.append_file(header, &name, relative, &path, &meta)?;
        } else {
            // Character and block devices, FIFOs, sockets: the container runtime makes its own.
            self.stats.skipped_devices += 1;
            return Ok(());
        }
        self.stats.entries += 1;
        Ok(())
    }

    /// A regular file, or a hard link to the first path of its inode.
    fn append_file(
        &mut self,
        mut header: tar::Header,
        name: &Path,
        relative: PathBuf,
        path: &Path,
        meta: &std::fs::Metadata,
    ) -> io::Result<()> {
        let key = (meta.dev(), meta.ino());
        let known = self.base_files.and_then(|files| files.digest_of(&relative, meta));
        if meta.nlink() > 1 {
            if let Some(first) = self.first_of_inode.get(&key) {
                header.set_entry_type(tar::EntryType::Link);
                return self.builder.append_link(&mut header, name, first);
            }
            self.first_of_inode.insert(key, relative);
        }
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(meta.len());
        if let Some(sha256) = known {
            let content = content::Content::file(path.to_path_buf(), sha256, meta.len());
            self.append_content(&mut header, name, content)?;
        } else {
            let file = std::fs::File::open(path)?;
            self.builder
                .append_data(&mut header, name, exactly(file, meta.len(), path))?;
        }
        self.stats.bytes_in += meta.len();
        (self.progress)(meta.len());
        Ok(())
    }

    /// A regular file's header, then its bytes by name, then the padding to the next block.
    fn append_content(
        &mut self,
        header: &mut tar::Header,
        name: &Path,
        content: content::Content,
    ) -> io::Result<()> {
        let size = content.size;
        // With no data, the builder writes the header (and any long-name entry) alone.
        self.builder.append_data(header, name, io::empty())?;
        let out = self.builder.get_mut();
        out.content(content)?;
        let padding = (512 - size % 512) % 512;
        out.write_all(&[0; 512][..padding as usize])
    }
}

/// A file read for the archive: exactly the size its header says, or an error (a file that grew
/// or shrank while the bake ran would otherwise make a corrupt archive).
fn exactly(file: std::fs::File, size: u64, path: &Path) -> impl Read {
    struct Exactly {
        inner: std::io::Take<std::fs::File>,
        left: u64,
        path: PathBuf,
    }
    impl Read for Exactly {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.inner.read(buf)?;
            self.left -= n as u64;
            if n == 0 && self.left > 0 && !buf.is_empty() {
                return Err(io::Error::other(format!(
                    "{}: changed while it was archived",
                    self.path.display()
                )));
            }
            Ok(n)
        }
    }
    Exactly {
        inner: file.take(size),
        left: size,
        path: path.to_path_buf(),
    }
}

#[cfg(test)]
mod tests;

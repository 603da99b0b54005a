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
//! - gzip in fixed 1 MiB pieces, each a gzip member with mtime 0 and OS byte 3, compressed at a
//!   fixed level by the pinned `flate2` backend (zlib-rs), the pieces compressed side by side: the bytes do
//!   not depend on how many threads there are.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};

use crate::install::Deferred;

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

/// What went into the archive.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct ArchiveStats {
    pub(crate) entries: u64,
    pub(crate) bytes_in: u64,
    pub(crate) skipped_devices: u64,
}

/// Every path under `root` (relative, `""` for the root itself), in archive order: component by
/// component, each compared by its bytes, as GNU tar's `--sort=name`. A directory comes before
/// its contents and its whole subtree comes together (`usr`, `usr/bin`, then `usr-lib`), so an
/// extracting tar can set each directory's time once it has left it.
pub(crate) fn sorted_paths(root: &Path) -> io::Result<Vec<PathBuf>> {
    let mut paths = Vec::new();
    for entry in walkdir::WalkDir::new(root).follow_links(false) {
        let entry = entry.map_err(io::Error::other)?;
        let relative = entry
            .path()
            .strip_prefix(root)
            .map_err(io::Error::other)?
            .to_path_buf();
        paths.push(relative);
    }
    // `Path` orders by components, and a Unix component by its bytes.
    paths.sort();
    Ok(paths)
}

/// Write `root` as a tar stream to `out`, with the `deferred` files (paths relative to `root`)
/// read from their wheels: owned by root, mtime `epoch`, in their place in the byte order, in
/// place of a file on disk at the same path.
pub(crate) fn write_tar<W: Write>(
    root: &Path,
    epoch: u64,
    deferred: &BTreeMap<PathBuf, Deferred>,
    owners: &Owners,
    out: W,
    mut progress: impl FnMut(u64),
) -> io::Result<ArchiveStats> {
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(false);
    let mut stats = ArchiveStats::default();
    let mut first_of_inode: HashMap<(u64, u64), PathBuf> = HashMap::new();
    let mut zips = HashMap::new();
    // A BTreeMap of paths is already in archive order.
    let mut from_wheels = deferred.iter().peekable();
    let on_disk = sorted_paths(root)?;
    let mut on_disk = on_disk.into_iter().peekable();
    loop {
        lastmile_process::interrupt::check_io()?;
        // The next path in byte order; a deferred file replaces a file on disk at its path.
        let take_wheel = match (on_disk.peek(), from_wheels.peek()) {
            (None, None) => break,
            (Some(_), None) => false,
            (None, Some(_)) => true,
            (Some(disk), Some((wheel, _))) => {
                let order = disk.as_path().cmp(wheel.as_path());
                if order == std::cmp::Ordering::Equal {
                    on_disk.next();
                }
                order != std::cmp::Ordering::Less
            }
        };
        if take_wheel {
            let (relative, file) = from_wheels.next().expect("peeked");
            let mut header = tar::Header::new_gnu();
            header.set_mode(file.mode);
            header.set_uid(0);
            header.set_gid(0);
            header.set_mtime(epoch);
            header.set_entry_type(tar::EntryType::Regular);
            header.set_size(file.size);
            // Read back from the wheel and checked again against the digest of the install.
            let member = crate::install::read_back(&mut zips, file)?;
            builder.append_data(&mut header, relative, member)?;
            stats.bytes_in += file.size;
            stats.entries += 1;
            progress(file.size);
            continue;
        }
        let relative = on_disk.next().expect("peeked");
        let path = root.join(&relative);
        let meta = std::fs::symlink_metadata(&path)?;
        let file_type = meta.file_type();
        let name: PathBuf = if relative.as_os_str().is_empty() {
            PathBuf::from("./")
        } else {
            relative.clone()
        };
        let owned = owners.of(&relative, &path, &meta);
        let mut header = tar::Header::new_gnu();
        header.set_mode(owned.mode);
        header.set_uid(owned.uid);
        header.set_gid(owned.gid);
        header.set_mtime((meta.mtime().max(0) as u64).min(epoch));
        header.set_size(0);
        if let Some(capability) = &owned.capability {
            builder.append_pax_extensions([("SCHILY.xattr.security.capability", capability.as_slice())])?;
        }
        if file_type.is_dir() {
            header.set_entry_type(tar::EntryType::Directory);
            let mut dir_name = name.into_os_string();
            if !dir_name.as_bytes().ends_with(b"/") {
                dir_name.push("/");
            }
            builder.append_data(&mut header, dir_name, io::empty())?;
        } else if file_type.is_symlink() {
            header.set_entry_type(tar::EntryType::Symlink);
            let target = std::fs::read_link(&path)?;
            builder.append_link(&mut header, &name, target)?;
        } else if file_type.is_file() {
            let key = (meta.dev(), meta.ino());
            if meta.nlink() > 1 {
                if let Some(first) = first_of_inode.get(&key) {
                    header.set_entry_type(tar::EntryType::Link);
                    builder.append_link(&mut header, &name, first)?;
                    stats.entries += 1;
                    continue;
                }
                first_of_inode.insert(key, relative.clone());
            }
            header.set_entry_type(tar::EntryType::Regular);
            header.set_size(meta.len());
            let file = std::fs::File::open(&path)?;
            builder.append_data(&mut header, &name, exactly(file, meta.len(), &path))?;
            stats.bytes_in += meta.len();
            progress(meta.len());
        } else {
            // Character and block devices, FIFOs, sockets: the container runtime makes its own.
            stats.skipped_devices += 1;
            continue;
        }
        stats.entries += 1;
    }
    builder.into_inner()?.flush()?;
    Ok(stats)
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

/// gzip compression in fixed-size pieces, each compressed by a pool of worker threads while the
/// caller keeps reading and archiving, and written in order: the reading, compressing and writing
/// overlap, and the bytes are the same for any number of workers.
pub(crate) struct ParallelGz<W: Write> {
    out: W,
    current: Vec<u8>,
    jobs: Option<mpsc::SyncSender<(u64, Vec<u8>)>>,
    results: mpsc::Receiver<(u64, io::Result<Vec<u8>>)>,
    workers: Vec<std::thread::JoinHandle<()>>,
    sent: u64,
    written: u64,
    ready: BTreeMap<u64, Vec<u8>>,
}

impl<W: Write> ParallelGz<W> {
    /// The piece size: part of the format, so it never changes with the machine.
    pub(crate) const PIECE: usize = 1 << 20;

    /// One worker per core.
    pub(crate) fn new(out: W, level: u32) -> Self {
        let threads = std::thread::available_parallelism().map_or(2, usize::from);
        Self::with_workers(out, level, threads)
    }

    pub(crate) fn with_workers(out: W, level: u32, workers: usize) -> Self {
        let workers = workers.max(1);
        // Pieces queued for the workers: enough to keep them busy, few enough to bound memory
        // (a few MiB per worker whatever the archive size).
        let (jobs, queue) = mpsc::sync_channel::<(u64, Vec<u8>)>(2 * workers);
        let (done, results) = mpsc::channel();
        let queue = Arc::new(Mutex::new(queue));
        let handles = (0..workers)
            .map(|_| {
                let queue = Arc::clone(&queue);
                let done = done.clone();
                std::thread::spawn(move || {
                    loop {
                        let job = queue.lock().map(|q| q.recv());
                        let Ok(Ok((index, piece))) = job else { break };
                        if done.send((index, compress_piece(&piece, level))).is_err() {
                            break;
                        }
                    }
                })
            })
            .collect();
        Self {
            out,
            current: Vec::with_capacity(Self::PIECE),
            jobs: Some(jobs),
            results,
            workers: handles,
            sent: 0,
            written: 0,
            ready: BTreeMap::new(),
        }
    }

    fn send_current(&mut self) -> io::Result<()> {
        let piece = std::mem::replace(&mut self.current, Vec::with_capacity(Self::PIECE));
        let jobs = self.jobs.as_ref().expect("not finished");
        jobs.send((self.sent, piece))
            .map_err(|_| io::Error::other("a compression worker stopped"))?;
        self.sent += 1;
        while let Ok(result) = self.results.try_recv() {
            self.take(result)?;
        }
        Ok(())
    }

    /// Keep a compressed piece and write every piece that is now in order.
    fn take(&mut self, (index, member): (u64, io::Result<Vec<u8>>)) -> io::Result<()> {
        self.ready.insert(index, member?);
        while let Some(member) = self.ready.remove(&self.written) {
            self.out.write_all(&member)?;
            self.written += 1;
        }
        Ok(())
    }

    /// Compress what is left, wait for the workers and return the inner writer.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        if !self.current.is_empty() {
            self.send_current()?;
        }
        self.jobs = None;
        while self.written < self.sent {
            let result = self
                .results
                .recv()
                .map_err(|_| io::Error::other("a compression worker stopped"))?;
            self.take(result)?;
        }
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

/// One piece as a gzip member: mtime 0, OS byte 3 (Unix), the given level.
fn compress_piece(piece: &[u8], level: u32) -> io::Result<Vec<u8>> {
    let mut encoder = flate2::GzBuilder::new().mtime(0).operating_system(3).write(
        Vec::with_capacity(piece.len() / 2),
        flate2::Compression::new(level),
    );
    encoder.write_all(piece)?;
    encoder.finish()
}

impl<W: Write> Write for ParallelGz<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = Self::PIECE - self.current.len();
        let take = room.min(buf.len());
        self.current.extend_from_slice(&buf[..take]);
        if self.current.len() == Self::PIECE {
            self.send_current()?;
        }
        Ok(take)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> tempfile::TempDir {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("usr/bin")).unwrap();
        std::fs::write(root.join("usr/bin/tool"), b"#!/bin/sh\n").unwrap();
        std::fs::set_permissions(root.join("usr/bin/tool"), std::fs::Permissions::from_mode(0o4755)).unwrap();
        std::fs::write(root.join("a.txt"), b"a").unwrap();
        std::fs::hard_link(root.join("a.txt"), root.join("usr/a-link")).unwrap();
        std::os::unix::fs::symlink("usr/bin", root.join("bin")).unwrap();
        std::fs::write(root.join("usr-lib"), b"").unwrap();
        std::fs::write(root.join("usr.d"), b"").unwrap();
        dir
    }

    #[test]
    fn a_directory_comes_before_its_subtree_and_the_subtree_stays_together() {
        let dir = tree();
        let paths: Vec<String> = sorted_paths(dir.path())
            .unwrap()
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        assert_eq!(
            paths,
            [
                "",
                "a.txt",
                "bin",
                "usr",
                "usr/a-link",
                "usr/bin",
                "usr/bin/tool",
                "usr-lib",
                "usr.d"
            ]
        );
    }

    #[test]
    fn entries_keep_modes_links_and_clamp_times() {
        let dir = tree();
        let mut tar = Vec::new();
        write_tar(
            dir.path(),
            1_000,
            &BTreeMap::new(),
            &Owners::default(),
            &mut tar,
            |_| {},
        )
        .unwrap();
        let mut archive = tar::Archive::new(tar.as_slice());
        let mut seen = Vec::new();
        for entry in archive.entries().unwrap() {
            let entry = entry.unwrap();
            let header = entry.header();
            assert_eq!(header.mtime().unwrap(), 1_000);
            seen.push((
                entry.path().unwrap().display().to_string(),
                header.entry_type(),
                header.mode().unwrap(),
                entry.link_name().unwrap().map(|l| l.display().to_string()),
            ));
        }
        let find = |name: &str| {
            seen.iter()
                .find(|s| s.0 == name)
                .unwrap_or_else(|| panic!("{name} not in {seen:?}"))
                .clone()
        };
        assert_eq!(find("usr/bin/tool").2, 0o4755);
        assert_eq!(find("bin").1, tar::EntryType::Symlink);
        assert_eq!(find("bin").3.as_deref(), Some("usr/bin"));
        assert_eq!(find("usr/a-link").1, tar::EntryType::Link);
        assert_eq!(find("usr/a-link").3.as_deref(), Some("a.txt"));
    }

    #[test]
    fn gzip_bytes_do_not_depend_on_the_thread_count() {
        let data: Vec<u8> = (0..(3 * ParallelGz::<Vec<u8>>::PIECE + 12345))
            .map(|i| (i % 251) as u8 ^ (i / 7919) as u8)
            .collect();
        let compress = |workers: usize| {
            let mut gz = ParallelGz::with_workers(Vec::new(), 6, workers);
            gz.write_all(&data).unwrap();
            gz.finish().unwrap()
        };
        let one = compress(1);
        assert_eq!(one, compress(2));
        assert_eq!(one, compress(3));
        let mut back = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(one.as_slice()), &mut back)
            .unwrap();
        assert_eq!(back, data);
    }
}

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
//!   and a piece whose bytes an earlier image holds is copied from it ([`reuse`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::install::Deferred;

mod gzip;
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
pub(crate) fn write_tar<W: EntryStarts>(
    root: &Path,
    epoch: u64,
    deferred: &BTreeMap<PathBuf, Deferred>,
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
        progress,
        stats: ArchiveStats::default(),
        first_of_inode: HashMap::new(),
        zips: HashMap::new(),
    };
    // A BTreeMap of paths is already in archive order.
    let mut from_wheels = deferred.iter().peekable();
    let mut on_disk = sorted_paths(root)?.into_iter().peekable();
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
            tar.append_deferred(relative, file)?;
        } else {
            tar.append_on_disk(on_disk.next().expect("peeked"))?;
        }
    }
    tar.builder.into_inner()?.flush()?;
    Ok(tar.stats)
}

/// The archive being written, and what it needs to write the next entry.
struct TarWriter<'a, W: EntryStarts, P: FnMut(u64)> {
    builder: tar::Builder<W>,
    root: &'a Path,
    epoch: u64,
    owners: &'a Owners<'a>,
    progress: P,
    stats: ArchiveStats,
    /// The first path of each inode with several links: the others become hard links to it.
    first_of_inode: HashMap<(u64, u64), PathBuf>,
    zips: HashMap<PathBuf, zip::ZipArchive<std::io::BufReader<std::fs::File>>>,
}

impl<W: EntryStarts, P: FnMut(u64)> TarWriter<'_, W, P> {
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
        // Read back from the wheel and checked again against the digest of the install.
        let member = crate::install::read_back(&mut self.zips, file)?;
        self.builder.append_data(&mut header, relative, member)?;
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
        if meta.nlink() > 1 {
            if let Some(first) = self.first_of_inode.get(&key) {
                header.set_entry_type(tar::EntryType::Link);
                return self.builder.append_link(&mut header, name, first);
            }
            self.first_of_inode.insert(key, relative);
        }
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(meta.len());
        let file = std::fs::File::open(path)?;
        self.builder
            .append_data(&mut header, name, exactly(file, meta.len(), path))?;
        self.stats.bytes_in += meta.len();
        (self.progress)(meta.len());
        Ok(())
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
mod tests {
    use super::gzip::PieceStats;
    use super::*;
    use std::io::Write;

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
            let mut gz = ParallelGz::with_workers(Vec::new(), 6, workers, None);
            gz.write_all(&data).unwrap();
            gz.finish().unwrap().0
        };
        let one = compress(1);
        assert_eq!(one, compress(2));
        assert_eq!(one, compress(3));
        let mut back = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(one.as_slice()), &mut back)
            .unwrap();
        assert_eq!(back, data);
    }

    /// A tree of a few thousand small files and some big ones, with one file that changes.
    fn system(dir: &Path, changed: &[u8]) {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut noise = |n: usize| -> Vec<u8> {
            (0..n)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    // Half text-like, so the members compress as real files do.
                    b"import lastmile\n"[(state % 16) as usize] ^ ((state >> 40) as u8 & 1)
                })
                .collect()
        };
        for package in 0..40 {
            let folder = dir.join(format!("opt/venv/site-packages/pkg{package:02}"));
            std::fs::create_dir_all(&folder).unwrap();
            for module in 0..60 {
                std::fs::write(
                    folder.join(format!("m{module:02}.py")),
                    noise(3_000 + module * 37),
                )
                .unwrap();
            }
        }
        std::fs::write(dir.join("opt/venv/site-packages/pkg20/m30.py"), changed).unwrap();
        std::fs::create_dir_all(dir.join("usr/lib")).unwrap();
        std::fs::write(dir.join("usr/lib/big.so"), noise(3 << 20)).unwrap();
    }

    /// Archive `dir` with `earlier` at hand; the bytes, where the pieces are, how they were made.
    fn archive(
        dir: &Path,
        earlier: Option<std::sync::Arc<reuse::Earlier>>,
    ) -> (Vec<u8>, Vec<reuse::PieceRecord>, PieceStats) {
        let mut gz = ParallelGz::with_workers(Vec::new(), 6, 2, earlier);
        write_tar(dir, 1_000, &BTreeMap::new(), &Owners::default(), &mut gz, |_| {}).unwrap();
        gz.finish().unwrap()
    }

    /// The next image, one file changed, copies all but the pieces around the change from the
    /// previous one, and its bytes are those of a cold archive of the same tree.
    #[test]
    fn the_next_image_reuses_the_unchanged_pieces_and_is_byte_identical() {
        let before = tempfile::tempdir().unwrap();
        system(before.path(), b"VERSION = '1'\n");
        let (first, records, cold_stats) = archive(before.path(), None);
        assert_eq!(cold_stats.reused, 0);
        assert!(cold_stats.pieces > 10, "{cold_stats:?}");
        let cache = tempfile::tempdir().unwrap();
        let images = tempfile::tempdir().unwrap();
        let digest = lastmile_fs::Sha256::of(&first);
        let previous = images
            .path()
            .join(lastmile_documents::candidate::ImageName::of(&digest).to_string());
        std::fs::write(&previous, &first).unwrap();
        reuse::record(cache.path(), &digest, "test", records).unwrap();

        let after = tempfile::tempdir().unwrap();
        system(after.path(), b"VERSION = '2, with a longer line than before'\n");
        let (cold, _, _) = archive(after.path(), None);
        let earlier = reuse::Earlier::open(cache.path(), std::slice::from_ref(&previous), "test");
        assert_eq!(earlier.images(), 1);
        let (warm, _, stats) = archive(after.path(), Some(std::sync::Arc::new(earlier)));
        assert_ne!(cold, first);
        assert!(cold == warm, "the reusing archive differs from the cold one");
        assert!(
            stats.pieces - stats.reused <= 3,
            "only the pieces around the change are compressed again: {stats:?}"
        );

        // An earlier image recorded with other compression, or whose bytes changed since, gives
        // nothing: the bake compresses everything and the bytes are still the same.
        assert_eq!(
            reuse::Earlier::open(cache.path(), std::slice::from_ref(&previous), "other").images(),
            0
        );
        let mut tampered = first.clone();
        let last = tampered.len() - 100;
        tampered[last] ^= 1;
        std::fs::write(&previous, &tampered).unwrap();
        assert_eq!(
            reuse::Earlier::open(cache.path(), &[previous], "test").images(),
            0
        );
    }
}

//! The archive's bytes: order, metadata, pieces and their reuse.

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
        &Sources::default(),
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
    std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(one.as_slice()), &mut back).unwrap();
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
    write_tar(
        dir,
        1_000,
        &Sources::default(),
        &Owners::default(),
        &mut gz,
        |_| {},
    )
    .unwrap();
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

    // An earlier image recorded with other compression gives nothing; one whose bytes changed
    // since gives nothing from the pieces that changed: those are compressed again, and the
    // bytes are still the cold archive's.
    assert_eq!(
        reuse::Earlier::open(cache.path(), std::slice::from_ref(&previous), "other").images(),
        0
    );
    let mut tampered = first.clone();
    let middle = tampered.len() / 2;
    tampered[middle] ^= 1;
    std::fs::write(&previous, &tampered).unwrap();
    let earlier = reuse::Earlier::open(cache.path(), &[previous], "test");
    let (warm, _, damaged) = archive(after.path(), Some(std::sync::Arc::new(earlier)));
    assert!(cold == warm, "a damaged earlier image changed the bytes");
    assert_eq!(damaged.reused + 1, stats.reused, "{damaged:?} against {stats:?}");
}

/// Archive `dir` with its files named by the digests in `files`, as the base's are.
fn archive_named(
    dir: &Path,
    files: &crate::base_files::BaseFiles,
    earlier: Option<std::sync::Arc<reuse::Earlier>>,
) -> io::Result<(Vec<u8>, Vec<reuse::PieceRecord>, PieceStats)> {
    let mut gz = ParallelGz::with_workers(Vec::new(), 6, 2, earlier);
    let sources = Sources {
        base_files: Some(files),
        ..Sources::default()
    };
    write_tar(dir, 1_000, &sources, &Owners::default(), &mut gz, |_| {})?;
    gz.finish()
}

/// Files named by their digests make the same bytes as files read; the next image, one file
/// changed, copies the other pieces from the previous one (reading none of what they hold) and
/// is still the cold archive's bytes.
#[test]
fn named_files_make_the_same_bytes_and_the_next_image_copies_them() {
    let before = tempfile::tempdir().unwrap();
    system(before.path(), b"VERSION = '1'\n");
    let (_, files) = crate::base_files::tree_digest(before.path(), None).unwrap();
    let (read, _, _) = archive(before.path(), None);
    let (first, records, _) = archive_named(before.path(), &files, None).unwrap();
    assert!(read == first, "naming the files changed the archive's bytes");

    let cache = tempfile::tempdir().unwrap();
    let digest = lastmile_fs::Sha256::of(&first);
    let previous = before
        .path()
        .join(lastmile_documents::candidate::ImageName::of(&digest).to_string());
    std::fs::write(&previous, &first).unwrap();
    reuse::record(cache.path(), &digest, "test", records).unwrap();
    std::fs::write(
        before.path().join("opt/venv/site-packages/pkg20/m30.py"),
        b"VERSION = '2, with a longer line than before'\n",
    )
    .unwrap();
    std::fs::remove_file(&previous).unwrap();
    let (cold, _, _) = archive(before.path(), None);
    std::fs::write(&previous, &first).unwrap();
    let earlier = reuse::Earlier::open(cache.path(), std::slice::from_ref(&previous), "test");
    std::fs::remove_file(&previous).unwrap();
    let (_, files) = crate::base_files::tree_digest(before.path(), None).unwrap();
    let (warm, _, stats) = archive_named(before.path(), &files, Some(std::sync::Arc::new(earlier))).unwrap();
    assert!(cold == warm, "the reusing archive differs from the cold one");
    assert!(stats.pieces - stats.reused <= 3, "{stats:?}");
}

/// A named file whose bytes changed after it was digested (same inode, size and time) is
/// refused when its piece is read, never archived with the wrong name.
#[test]
fn a_named_file_that_changed_since_its_digest_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    system(dir.path(), b"VERSION = '1'\n");
    let (_, files) = crate::base_files::tree_digest(dir.path(), None).unwrap();
    let big = dir.path().join("usr/lib/big.so");
    let mtime = std::fs::metadata(&big).unwrap().modified().unwrap();
    let file = std::fs::OpenOptions::new().write(true).open(&big).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&file, b"changed", 1000).unwrap();
    file.set_modified(mtime).unwrap();
    drop(file);
    let err = archive_named(dir.path(), &files, None).unwrap_err();
    assert!(
        err.to_string()
            .contains("usr/lib/big.so: changed while it was archived"),
        "{err}"
    );
}

//! Tests of [`Root`](super::Root): writes only through real folders, reads only inside.

use super::*;

/// A tree with links pointing out of it, to a canary folder that must stay untouched.
fn hostile() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("rootfs");
    let canary = dir.path().join("canary");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::create_dir_all(&canary).unwrap();
    std::fs::write(canary.join("os-release"), "ID=host\n").unwrap();
    std::os::unix::fs::symlink(&canary, root.join("opt")).unwrap();
    std::os::unix::fs::symlink(&canary, root.join("etc/lastmile")).unwrap();
    std::os::unix::fs::symlink("../../../canary", root.join("etc/up")).unwrap();
    std::os::unix::fs::symlink(canary.join("os-release"), root.join("etc/os-release")).unwrap();
    std::fs::create_dir_all(root.join("usr/lib")).unwrap();
    std::fs::write(root.join("usr/lib/os-release"), "ID=debian\n").unwrap();
    (dir, root, canary)
}

fn canary_untouched(canary: &Path) {
    let names: Vec<_> = std::fs::read_dir(canary)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["os-release"]);
    assert_eq!(
        std::fs::read_to_string(canary.join("os-release")).unwrap(),
        "ID=host\n"
    );
}

#[test]
fn writes_never_pass_through_a_link() {
    let (_dir, root, canary) = hostile();
    let rootfs = Root::open(&root).unwrap();
    for path in [
        "opt/lastmile/venv/bin/python",
        "etc/lastmile/candidate.json",
        "etc/up/x",
        "/opt/x",
    ] {
        let err = rootfs.write(Path::new(path), b"x", 0o644).unwrap_err();
        assert!(matches!(err, RootError::LinkInPath { .. }), "{path}: {err}");
        assert!(err.to_string().contains("is a link (to "), "{err}");
        assert!(rootfs.create_dir_all(Path::new(path)).is_err());
        assert!(rootfs.symlink(Path::new("/x"), Path::new(path)).is_err());
    }
    assert!(rootfs.write(Path::new("../x"), b"x", 0o644).is_err());
    for path in ["opt/lastmile/venv", "etc/lastmile", "etc/up"] {
        let err = rootfs.folder(Path::new(path)).unwrap_err();
        assert!(matches!(err, RootError::LinkInPath { .. }), "{path}: {err}");
    }
    // An open folder removes the link at a name, never what it points to.
    let etc = rootfs.folder(Path::new("etc")).unwrap();
    etc.remove_file(std::ffi::OsStr::new("up")).unwrap();
    etc.remove_file(std::ffi::OsStr::new("not-there")).unwrap();
    assert!(std::fs::symlink_metadata(root.join("etc/up")).is_err());
    canary_untouched(&canary);
    // A link at the written path itself is replaced, not written through.
    rootfs
        .write(Path::new("etc/os-release"), b"ID=image\n", 0o644)
        .unwrap();
    assert!(
        !std::fs::symlink_metadata(root.join("etc/os-release"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    canary_untouched(&canary);
    // Real folders are created, and remembered as made.
    rootfs.write(Path::new("srv/app/config"), b"x", 0o600).unwrap();
    assert_eq!(
        rootfs.made().into_iter().collect::<Vec<_>>(),
        [
            PathBuf::from("etc/os-release"),
            "srv".into(),
            "srv/app".into(),
            "srv/app/config".into()
        ]
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(root.join("srv/app/config"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o600);
}

#[test]
fn reads_resolve_links_inside_the_root_and_take_only_files() {
    let (_dir, root, _canary) = hostile();
    let rootfs = Root::open(&root).unwrap();
    // /etc/os-release points at the host's file by an absolute path: inside the root that
    // path does not exist, so nothing of the host is read.
    assert!(
        rootfs
            .read(Path::new("etc/os-release"), 1024)
            .unwrap_err()
            .is_not_found()
    );
    std::fs::remove_file(root.join("etc/os-release")).unwrap();
    std::os::unix::fs::symlink("/usr/lib/os-release", root.join("etc/os-release")).unwrap();
    assert_eq!(
        rootfs.read_text(Path::new("etc/os-release"), 1024).unwrap(),
        "ID=debian\n"
    );
    // A device is not read; a file past the limit is refused.
    std::os::unix::fs::symlink("/dev/zero", root.join("etc/zero")).unwrap();
    std::fs::create_dir_all(root.join("dev")).unwrap();
    assert!(rootfs.read(Path::new("etc/zero"), 1024).is_err());
    assert!(matches!(
        rootfs.read(Path::new("usr/lib/os-release"), 4),
        Err(RootError::TooLarge { .. })
    ));
    assert!(matches!(
        rootfs.read(Path::new("usr/lib"), 4),
        Err(RootError::NotAFile { .. })
    ));
    assert_eq!(rootfs.list(Path::new("usr/lib")).unwrap(), ["os-release"]);
    assert!(rootfs.lexists(Path::new("etc/lastmile")));
    assert!(!rootfs.lexists(Path::new("etc/none")));
}

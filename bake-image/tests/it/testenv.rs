//! The test kit: a synthetic base, wheels written on the fly, and bake-image run under a given
//! umask and environment.

#![allow(unreachable_pub)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use sha2::{Digest, Sha256};

pub fn sha256(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// A wheel with a module, a console script and optionally extra members.
pub fn wheel(dir: &Path, name: &str, version: &str, tag: &str, extra: &[(&str, &[u8])]) -> PathBuf {
    wheel_requiring(dir, name, version, tag, extra, &[])
}

/// [`wheel`] with `Requires-Dist` lines in its METADATA.
pub fn wheel_requiring(
    dir: &Path,
    name: &str,
    version: &str,
    tag: &str,
    extra: &[(&str, &[u8])],
    requires: &[&str],
) -> PathBuf {
    let info = format!("{name}-{version}.dist-info");
    let requires: String = requires.iter().map(|r| format!("Requires-Dist: {r}\n")).collect();
    let mut files: Vec<(String, Vec<u8>)> = vec![
        (
            format!("{name}/__init__.py"),
            format!("def main():\n    print('{name} {version}')\n").into_bytes(),
        ),
        (
            format!("{info}/METADATA"),
            format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n{requires}").into_bytes(),
        ),
        (
            format!("{info}/WHEEL"),
            format!("Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: {tag}\n").into_bytes(),
        ),
        (
            format!("{info}/entry_points.txt"),
            format!("[console_scripts]\n{name}-run = {name}:main\n").into_bytes(),
        ),
    ];
    for (member, data) in extra {
        files.push(((*member).to_owned(), data.to_vec()));
    }
    let mut record = String::new();
    for (member, data) in &files {
        let hash = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(data));
        record.push_str(&format!("{member},sha256={hash},{}\n", data.len()));
    }
    record.push_str(&format!("{info}/RECORD,,\n"));
    files.push((format!("{info}/RECORD"), record.into_bytes()));
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(format!("{}-{version}-{tag}.whl", name.replace(['-', '.'], "_")));
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    // Stored, not deflated: the wheel's bytes (and so the hashes in snapshots) do not depend on
    // which deflate implementation flate2 was built with.
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .last_modified_time(zip::DateTime::default());
    for (member, data) in &files {
        zip.start_file(member.as_str(), options).unwrap();
        zip.write_all(data).unwrap();
    }
    zip.finish().unwrap();
    path
}

/// A synthetic Debian-like base: Python 3.11, glibc 2.36 on x86_64, an init and os-release.
/// `reverse` creates its files in the opposite order.
pub fn base(dir: &Path, reverse: bool) {
    let mut files: Vec<(&str, &str)> = vec![
        (
            "etc/os-release",
            "ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n",
        ),
        ("usr/lib/python3.11/os.py", "# os\n"),
        ("usr/lib/x86_64-linux-gnu/libc.so.6", ""),
        (
            "var/lib/dpkg/status",
            "Package: libc6\nStatus: install ok installed\nVersion: 2.36-9+deb12u4\n\nPackage: python3.11-minimal\nStatus: install ok installed\nVersion: 3.11.2-6\n",
        ),
        ("usr/bin/python3.11", "#!/bin/false\n"),
    ];
    if reverse {
        files.reverse();
    }
    for (path, contents) in files {
        let full = dir.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(&full, contents).unwrap();
    }
    std::fs::create_dir_all(dir.join("sbin")).unwrap();
    std::os::unix::fs::symlink("/lib/systemd/systemd", dir.join("sbin/init")).unwrap();
    // The base's own times are old and fixed, as a cached base's are.
    for entry in walkdir::WalkDir::new(dir) {
        let path = entry.unwrap().into_path();
        let _ = Command::new("touch")
            .args(["-h", "-d", "@1700000000"])
            .arg(&path)
            .status();
    }
}

pub struct Bake {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn bake(args: &[&str], dir: &Path, envs: &[(&str, &str)], umask: &str) -> Bake {
    let binary = env!("CARGO_BIN_EXE_bake-image");
    let mut line = format!("umask {umask} && exec {binary}");
    for arg in args {
        line.push_str(&format!(" '{arg}'"));
    }
    let mut command = Command::new("sh");
    command
        .args(["-c", &line])
        .current_dir(dir)
        .env("LASTMILE_CACHE_DIR", dir.join(".cache"));
    for (key, value) in envs {
        command.env(key, value);
    }
    let out = command.output().unwrap();
    Bake {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn images(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|r| {
            r.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.retain(|n| n.starts_with("autobuild-") || n.starts_with(".autobuild-") || n.starts_with(".bake-"));
    names.sort();
    names
}

/// The image's file name in `dir`.
pub fn image(dir: &Path) -> String {
    images(dir)
        .into_iter()
        .find(|n| n.ends_with(".tar.gz"))
        .expect("an image")
}

pub struct Setup {
    pub dir: tempfile::TempDir,
}

impl Setup {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("lastmile-bake-")
            .tempdir()
            .unwrap();
        base(&dir.path().join("base"), false);
        let a = wheel(&dir.path().join("dist"), "alpha", "1.0", "py3-none-any", &[]);
        let b = wheel(
            &dir.path().join("dist"),
            "beta",
            "2.0",
            "py3-none-any",
            &[("beta-2.0.data/scripts/beta-tool", b"#!python\nprint('tool')\n")],
        );
        let pinned = format!(
            "alpha==1.0 \\\n    --hash=sha256:{}\nbeta==2.0 \\\n    --hash=sha256:{}\n",
            sha256(&std::fs::read(a).unwrap()),
            sha256(&std::fs::read(b).unwrap())
        );
        std::fs::write(dir.path().join("pinned.txt"), pinned).unwrap();
        std::fs::create_dir_all(dir.path().join("overlay/etc/cam")).unwrap();
        std::fs::write(dir.path().join("overlay/etc/cam/site.yaml"), "site: karoo\n").unwrap();
        Self { dir }
    }

    /// `bake-image PINNED --base BASE -f dist --offline --out-dir OUT EXTRA...`.
    pub fn run_bake(
        &self,
        [pinned, base, out]: [&str; 3],
        extra: &[&str],
        envs: &[(&str, &str)],
        umask: &str,
    ) -> Bake {
        let mut args = vec![
            pinned,
            "--base",
            base,
            "-f",
            "dist",
            "--offline",
            "--out-dir",
            out,
        ];
        args.extend_from_slice(extra);
        bake(&args, self.dir.path(), envs, umask)
    }

    /// `pinned.txt` on BASE into OUT, with EXTRA options, under umask 022.
    pub fn bake_from(&self, base: &str, out: &str, extra: &[&str]) -> Bake {
        self.run_bake(["pinned.txt", base, out], extra, &[], "022")
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// A bake with the overlay, a service and a source commit.
    pub fn bake(&self, pinned: &str, base: &str, out: &str, envs: &[(&str, &str)], umask: &str) -> Bake {
        self.run_bake([pinned, base, out], &SYSTEM_OPTIONS, envs, umask)
    }
}

/// The overlay, service and source commit [`Setup::bake`] gives every bake.
pub const SYSTEM_OPTIONS: [&str; 6] = [
    "--overlay",
    "overlay",
    "--service",
    "alpha=alpha-run --port 7147",
    "--source-commit",
    "cam=3f2c1e9",
];

/// Schema errors of a document against schemas/candidate.v1.schema.json.
pub fn schema_errors(document: &serde_json::Value) -> Vec<String> {
    lastmile_tests::schema::errors(document, "candidate.v1")
}

pub fn untar(image: &Path, into: &Path) {
    std::fs::create_dir_all(into).unwrap();
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(image)
        .arg("-C")
        .arg(into)
        .status()
        .unwrap();
    assert!(status.success());
}

/// Pack `tree` as an image named after its own digest, as a tampering builder would.
pub fn repack(tree: &Path, out: &Path) -> String {
    let temp = out.join("repacked.tar.gz");
    let status = Command::new("tar")
        .args(["-czf"])
        .arg(&temp)
        .args(["--numeric-owner", "-C"])
        .arg(tree)
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success());
    let digest = sha256(&std::fs::read(&temp).unwrap());
    let name = format!("autobuild-{}.tar.gz", &digest[..12]);
    std::fs::rename(&temp, out.join(&name)).unwrap();
    name
}

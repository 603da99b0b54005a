//! A small Debian archive of real `.deb` files (dpkg-deb), its `InRelease` signed by a key made
//! for the test, served over HTTP on 127.0.0.1 from a folder the handler reads on every request
//! (so a test can change a file under the server).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use lastmile_tests::gpg::TestKey;
use sha2::{Digest, Sha256};

use crate::index_server::{MockIndex, Reply};

/// A package of the archive: its name, version and the control fields beyond the basic ones.
pub(crate) struct Deb<'a> {
    pub(crate) name: &'a str,
    pub(crate) version: &'a str,
    pub(crate) fields: &'a str,
}

pub(crate) struct Archive {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) key: TestKey,
    pub(crate) server: MockIndex,
}

fn hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

impl Archive {
    /// The archive of `debs` (suite `bookworm`, component `main`, amd64), signed and served.
    pub(crate) fn new(debs: &[Deb]) -> Archive {
        let dir = tempfile::Builder::new()
            .prefix("lastmile-os-archive-")
            .tempdir()
            .unwrap();
        let key = TestKey::new(dir.path(), "archive");
        let root = dir.path().join("www");
        let mut packages = String::new();
        for deb in debs {
            packages.push_str(&build_deb(&root, deb));
            packages.push('\n');
        }
        let served = root.clone();
        let server = MockIndex::start(move |seen, _| {
            match std::fs::read(served.join(seen.path.trim_start_matches('/'))) {
                Ok(bytes) => Reply::File(bytes),
                Err(_) => Reply::Status(404),
            }
        });
        let archive = Archive { dir, key, server };
        archive.publish(&packages);
        archive
    }

    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Write `Packages(.gz)` from `packages` and an `InRelease` over them, signed by the key.
    pub(crate) fn publish(&self, packages: &str) {
        let dists = self.path("www/dists/bookworm");
        let binary = dists.join("main/binary-amd64");
        std::fs::create_dir_all(&binary).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(packages.as_bytes()).unwrap();
        let gz = gz.finish().unwrap();
        std::fs::write(binary.join("Packages.gz"), &gz).unwrap();
        std::fs::write(binary.join("Packages"), packages).unwrap();
        let release = format!(
            "Origin: Test\nSuite: stable\nCodename: bookworm\nDate: Sat, 06 Sep 2025 09:41:20 UTC\n\
             Architectures: amd64\nComponents: main\nSHA256:\n {} {} main/binary-amd64/Packages.gz\n {} {} main/binary-amd64/Packages\n",
            hex(&gz),
            gz.len(),
            hex(packages.as_bytes()),
            packages.len()
        );
        self.key.clearsign(&release, &dists.join("InRelease"));
    }

    /// The OS package file for this archive, with the rest of the file `body` (top-level keys
    /// and tables), written into the test folder; its path.
    pub(crate) fn spec(&self, name: &str, body: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(
            &path,
            format!(
                "keyrings = [\"{}\"]\n{body}\n[[sources]]\nuri = \"{}/\"\nsuite = \"bookworm\"\ncomponents = [\"main\"]\n",
                self.key.keyring.display(),
                self.server.url
            ),
        )
        .unwrap();
        path
    }

    /// `pin-deps os-lock SPEC --cache-dir CACHE ARGS...`.
    pub(crate) fn lock(&self, spec: &Path, cache: &str, args: &[&str]) -> lastmile_tests::Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pin-deps"));
        command
            .arg("os-lock")
            .arg(spec)
            .arg("--cache-dir")
            .arg(self.path(cache))
            .args(args);
        lastmile_tests::run_command(&mut command, None)
    }
}

/// A real `.deb` under `root/pool/main/`; its `Packages` record.
fn build_deb(root: &Path, deb: &Deb) -> String {
    let tree = root.join("../debs").join(format!("{}-{}", deb.name, deb.version));
    std::fs::create_dir_all(tree.join("DEBIAN")).unwrap();
    std::fs::create_dir_all(tree.join("usr/share/doc").join(deb.name)).unwrap();
    std::fs::write(tree.join("usr/share/doc").join(deb.name).join("README"), deb.name).unwrap();
    let control = format!(
        "Package: {}\nVersion: {}\nArchitecture: amd64\nMaintainer: Test <test@example.invalid>\n{}Description: {} for the test\n",
        deb.name, deb.version, deb.fields, deb.name
    );
    std::fs::write(tree.join("DEBIAN/control"), &control).unwrap();
    let pool = root.join("pool/main");
    std::fs::create_dir_all(&pool).unwrap();
    let filename = format!("pool/main/{}_{}_amd64.deb", deb.name, deb.version);
    let out = Command::new("dpkg-deb")
        .args(["--root-owner-group", "-Zgzip", "--build"])
        .arg(&tree)
        .arg(root.join(&filename))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bytes = std::fs::read(root.join(&filename)).unwrap();
    format!(
        "{}Filename: {filename}\nSize: {}\nSHA256: {}\n",
        control.replace(&format!("Description: {} for the test\n", deb.name), ""),
        bytes.len(),
        hex(&bytes)
    )
}

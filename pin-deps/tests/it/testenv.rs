//! A temporary folder with a package source (`dist/`) of small wheels and sdists written on the
//! fly, and a runner for the `pin-deps` binary.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use sha2::{Digest, Sha256};

pub(crate) struct TestEnv {
    pub(crate) dir: tempfile::TempDir,
}

pub(crate) use lastmile_tests::Output;

/// `name==version` lines of an output, extras included.
pub(crate) trait Pins {
    fn pins(&self) -> Vec<String>;
}

impl Pins for Output {
    fn pins(&self) -> Vec<String> {
        self.stdout
            .lines()
            .filter(|l| !l.starts_with(' ') && !l.starts_with('#') && !l.is_empty())
            .map(|l| l.trim_end_matches(" \\").to_owned())
            .collect()
    }
}

/// A wheel to write: `Wheel::new("a", "1.0").requires("b>=1")`.
pub(crate) struct Wheel {
    name: String,
    version: String,
    tag: String,
    requires: Vec<String>,
    requires_python: Option<String>,
    extras: Vec<String>,
    payload: usize,
}

impl Wheel {
    pub(crate) fn new(name: &str, version: &str) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            tag: "py3-none-any".into(),
            requires: Vec::new(),
            requires_python: None,
            extras: Vec::new(),
            payload: 0,
        }
    }

    /// Add a data file of `bytes` incompressible bytes before the metadata (a big wheel).
    pub(crate) fn payload(mut self, bytes: usize) -> Self {
        self.payload = bytes;
        self
    }

    pub(crate) fn requires(mut self, requirement: &str) -> Self {
        self.requires.push(requirement.into());
        self
    }

    pub(crate) fn requires_python(mut self, spec: &str) -> Self {
        self.requires_python = Some(spec.into());
        self
    }

    pub(crate) fn extra(mut self, extra: &str) -> Self {
        self.extras.push(extra.into());
        self
    }

    pub(crate) fn tag(mut self, tag: &str) -> Self {
        self.tag = tag.into();
        self
    }

    fn metadata(&self) -> String {
        let mut text = format!(
            "Metadata-Version: 2.1\nName: {}\nVersion: {}\n",
            self.name, self.version
        );
        if let Some(python) = &self.requires_python {
            text.push_str(&format!("Requires-Python: {python}\n"));
        }
        for extra in &self.extras {
            text.push_str(&format!("Provides-Extra: {extra}\n"));
        }
        for requirement in &self.requires {
            text.push_str(&format!("Requires-Dist: {requirement}\n"));
        }
        text
    }
}

fn record_hash(data: &[u8]) -> String {
    let digest = Sha256::digest(data);
    format!(
        "sha256={}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
    )
}

impl TestEnv {
    pub(crate) fn new() -> Self {
        let env = Self {
            dir: tempfile::Builder::new()
                .prefix("lastmile-pin-deps-")
                .tempdir()
                .unwrap(),
        };
        std::fs::create_dir_all(env.path("dist")).unwrap();
        env
    }

    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub(crate) fn write(&self, rel: &str, contents: &str) -> &Self {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
        self
    }

    /// Write a wheel into `dist/`, byte-identical for the same description (fixed timestamps).
    pub(crate) fn wheel(&self, wheel: Wheel) -> &Self {
        let dist = wheel.name.replace('-', "_");
        let info = format!("{dist}-{}.dist-info", wheel.version);
        let mut noise = Vec::with_capacity(wheel.payload);
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        while noise.len() < wheel.payload {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            noise.extend_from_slice(&state.to_le_bytes());
        }
        noise.truncate(wheel.payload);
        let mut files: Vec<(String, Vec<u8>)> = Vec::new();
        if wheel.payload > 0 {
            files.push((format!("{dist}/data.bin"), noise));
        }
        files.extend([
            (
                format!("{dist}/__init__.py"),
                format!("__version__ = \"{}\"\n", wheel.version).into_bytes(),
            ),
            (format!("{info}/METADATA"), wheel.metadata().into_bytes()),
            (
                format!("{info}/WHEEL"),
                format!(
                    "Wheel-Version: 1.0\nGenerator: lastmile-tests\nRoot-Is-Purelib: true\nTag: {}\n",
                    wheel.tag
                )
                .into_bytes(),
            ),
        ]);
        let mut record = String::new();
        for (name, data) in &files {
            record.push_str(&format!("{name},{},{}\n", record_hash(data), data.len()));
        }
        record.push_str(&format!("{info}/RECORD,,\n"));
        let path = self.path(&format!("dist/{dist}-{}-{}.whl", wheel.version, wheel.tag));
        let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
        // Stored, not deflated: the wheel's bytes (and so the hashes in snapshots) do not depend on
        // which deflate implementation flate2 was built with.
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .last_modified_time(zip::DateTime::default());
        for (name, data) in files
            .iter()
            .chain(std::iter::once(&(format!("{info}/RECORD"), record.into_bytes())))
        {
            zip.start_file(name.as_str(), options).unwrap();
            zip.write_all(data).unwrap();
        }
        zip.finish().unwrap();
        self
    }

    /// Write an sdist whose PKG-INFO has the given metadata version (2.2+ is static).
    pub(crate) fn sdist(
        &self,
        name: &str,
        version: &str,
        metadata_version: &str,
        requires: &[&str],
    ) -> &Self {
        let mut pkg_info =
            format!("Metadata-Version: {metadata_version}\nName: {name}\nVersion: {version}\n");
        for r in requires {
            pkg_info.push_str(&format!("Requires-Dist: {r}\n"));
        }
        self.sdist_files(name, version, &[("PKG-INFO", &pkg_info)])
    }

    pub(crate) fn run(&self, args: &[&str]) -> Output {
        run_in(self.dir.path(), args, None)
    }

    /// Run with `-f dist --no-index --no-header` and the requirements given on stdin.
    pub(crate) fn pin(&self, requirements: &str, extra: &[&str]) -> Output {
        let mut args = vec!["-", "-f", "dist", "--no-index", "--no-header"];
        args.extend_from_slice(extra);
        run_in(self.dir.path(), &args, Some(requirements))
    }
}

pub(crate) fn run_in(dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    // Each test gets its own hash cache, inside its temporary folder.
    // Tests never reach the public index: the default index is an empty local folder.
    let no_index = dir.join(".empty-index");
    std::fs::create_dir_all(&no_index).unwrap();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_pin-deps"));
    command
        .args(args)
        .current_dir(dir)
        .env("LASTMILE_CACHE_DIR", dir.join(".cache"))
        .env("PIP_INDEX_URL", format!("file://{}", no_index.display()))
        .env_remove("PIP_EXTRA_INDEX_URL")
        .env_remove("PIP_FIND_LINKS");
    lastmile_tests::run_command(&mut command, stdin)
}

impl TestEnv {
    /// Run with the given source options, `--no-header --no-hashes`, and requirements on stdin.
    pub(crate) fn run_pin(&self, sources: &[&str], requirements: &str) -> Output {
        let mut args = vec!["-", "--no-header", "--no-hashes"];
        args.extend_from_slice(sources);
        run_in(self.dir.path(), &args, Some(requirements))
    }
}

impl TestEnv {
    /// Write an sdist `dist/NAME-VERSION.tar.gz` holding the given files under `NAME-VERSION/`.
    pub(crate) fn sdist_files(&self, name: &str, version: &str, files: &[(&str, &str)]) -> &Self {
        let named: Vec<(String, &str)> = files
            .iter()
            .map(|(f, c)| (format!("{name}-{version}/{f}"), *c))
            .collect();
        let entries: Vec<(&str, &str)> = named.iter().map(|(f, c)| (f.as_str(), *c)).collect();
        lastmile_tests::write_tar_gz(&self.path(&format!("dist/{name}-{version}.tar.gz")), &entries);
        self
    }
}

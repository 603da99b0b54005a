//! bake-image end to end on a small synthetic base (the files a base's target is read from, an
//! init, os-release) and wheels written on the fly: reproducibility under a different umask, TZ,
//! locale, temporary folder and file creation order; every refusal with its message, exit code
//! and no image left behind; verify on a good and a tampered image.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use sha2::{Digest, Sha256};

fn sha256(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// A wheel with a module, a console script and optionally extra members.
fn wheel(dir: &Path, name: &str, version: &str, tag: &str, extra: &[(&str, &[u8])]) -> PathBuf {
    let info = format!("{name}-{version}.dist-info");
    let mut files: Vec<(String, Vec<u8>)> = vec![
        (
            format!("{name}/__init__.py"),
            format!("def main():\n    print('{name} {version}')\n").into_bytes(),
        ),
        (
            format!("{info}/METADATA"),
            format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n").into_bytes(),
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
    let path = dir.join(format!("{name}-{version}-{tag}.whl"));
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
fn base(dir: &Path, reverse: bool) {
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

struct Bake {
    code: i32,
    stdout: String,
    stderr: String,
}

fn bake(args: &[&str], dir: &Path, envs: &[(&str, &str)], umask: &str) -> Bake {
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

fn images(dir: &Path) -> Vec<String> {
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
fn image(dir: &Path) -> String {
    images(dir)
        .into_iter()
        .find(|n| n.ends_with(".tar.gz"))
        .expect("an image")
}

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Self {
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
    fn run_bake(
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
    fn bake_from(&self, base: &str, out: &str, extra: &[&str]) -> Bake {
        self.run_bake(["pinned.txt", base, out], extra, &[], "022")
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// A bake with the overlay, a service and a source commit.
    fn bake(&self, pinned: &str, base: &str, out: &str, envs: &[(&str, &str)], umask: &str) -> Bake {
        let extra = [
            "--overlay",
            "overlay",
            "--service",
            "alpha=alpha-run --port 7147",
            "--source-commit",
            "cam=3f2c1e9",
        ];
        self.run_bake([pinned, base, out], &extra, envs, umask)
    }
}

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
    assert_eq!(one.len(), 2, "{one:?}");
    assert_eq!(one, two, "different names, so different bytes");
    let a = std::fs::read(setup.path("out1").join(image(&setup.path("out1")))).unwrap();
    let b = std::fs::read(setup.path("out2").join(image(&setup.path("out2")))).unwrap();
    assert!(a == b);
    // The image and its SBOM are created like any file, readable under umask 022.
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
    assert_eq!(
        image(&setup.path("out1")),
        format!("autobuild-{}.tar.gz", &sha256(&a)[..12])
    );
    assert_eq!(doc["target"]["python"], "3.11.2");
    assert_eq!(doc["source_commits"]["cam"], "3f2c1e9");
    assert_eq!(doc["packages"].as_array().unwrap().len(), 2);
}

#[test]
fn the_image_holds_the_venv_units_manifest_and_sbom() {
    let setup = Setup::new();
    let out = setup.bake("pinned.txt", "base", "out", &[], "022");
    assert_eq!(out.code, 0, "{}", out.stderr);
    let name = &image(&setup.path("out"));
    let unpacked = setup.path("unpacked");
    std::fs::create_dir_all(&unpacked).unwrap();
    let status = Command::new("tar")
        .args([
            "-xzf",
            setup.path("out").join(name).to_str().unwrap(),
            "-C",
            unpacked.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let venv = unpacked.join("opt/lastmile/venv");
    let launcher = std::fs::read_to_string(venv.join("bin/alpha-run")).unwrap();
    assert!(
        launcher.starts_with("#!/opt/lastmile/venv/bin/python\n"),
        "{launcher}"
    );
    assert!(launcher.contains("from alpha import main"));
    let tool = std::fs::read_to_string(venv.join("bin/beta-tool")).unwrap();
    assert_eq!(tool, "#!/opt/lastmile/venv/bin/python\nprint('tool')\n");
    assert_eq!(
        std::fs::read_link(venv.join("bin/python3.11")).unwrap(),
        Path::new("/usr/bin/python3.11")
    );
    let site = venv.join("lib/python3.11/site-packages");
    assert!(site.join("alpha/__init__.py").is_file());
    assert_eq!(
        std::fs::read_to_string(site.join("alpha-1.0.dist-info/INSTALLER")).unwrap(),
        "lastmile\n"
    );
    assert!(site.join("alpha-1.0.dist-info/REQUESTED").is_file());
    let record = std::fs::read_to_string(site.join("beta-2.0.dist-info/RECORD")).unwrap();
    assert!(record.contains("../../../bin/beta-tool,sha256="), "{record}");
    let unit = std::fs::read_to_string(unpacked.join("etc/systemd/system/alpha.service")).unwrap();
    assert!(
        unit.contains("ExecStart=/opt/lastmile/venv/bin/alpha-run --port 7147"),
        "{unit}"
    );
    assert_eq!(
        std::fs::read_link(unpacked.join("etc/systemd/system/multi-user.target.wants/alpha.service"))
            .unwrap(),
        Path::new("/etc/systemd/system/alpha.service")
    );
    assert_eq!(
        std::fs::read_to_string(unpacked.join("etc/cam/site.yaml")).unwrap(),
        "site: karoo\n"
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(unpacked.join("etc/lastmile/candidate.json")).unwrap())
            .unwrap();
    assert!(manifest["image"].is_null());
    let sbom = std::fs::read_to_string(unpacked.join("etc/lastmile/sbom.cdx.json")).unwrap();
    assert!(sbom.contains("pkg:pypi/alpha@1.0"), "{sbom}");
    assert!(
        setup
            .path("out")
            .join(name.replace(".tar.gz", ".sbom.cdx.json"))
            .is_file()
    );

    let ok = bake(&["verify", &format!("out/{name}")], setup.dir.path(), &[], "022");
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert!(ok.stderr.contains(": ok (2 packages"), "{}", ok.stderr);
    // A renamed copy no longer matches its name.
    std::fs::copy(
        setup.path("out").join(name),
        setup.path("out/autobuild-000000000000.tar.gz"),
    )
    .unwrap();
    let bad = bake(
        &["verify", "out/autobuild-000000000000.tar.gz"],
        setup.dir.path(),
        &[],
        "022",
    );
    assert_eq!(bad.code, 1, "{}", bad.stderr);
    assert!(
        bad.stderr.contains("its name says 000000000000"),
        "{}",
        bad.stderr
    );
}

fn refused(setup: &Setup, pinned: &str, expect: &str) {
    std::fs::write(setup.path("refused.txt"), pinned).unwrap();
    let out = setup.bake("refused.txt", "base", "refused-out", &[], "022");
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(expect),
        "expected {expect:?} in:\n{}",
        out.stderr
    );
    assert_eq!(out.stdout, "");
    assert_eq!(images(&setup.path("refused-out")), Vec::<String>::new());
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
        "onlysrc==1.0 is only an sdist (onlysrc-1.0.tar.gz); build it into a wheel first",
    );
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
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.iter().all(|n| n.starts_with("autobuild-")), "{names:?}");
}

/// Schema errors of a document against schemas/candidate.v1.schema.json.
fn schema_errors(document: &serde_json::Value) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/candidate.v1.schema.json");
    let schema: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    validator
        .iter_errors(document)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

fn untar(image: &Path, into: &Path) {
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
fn repack(tree: &Path, out: &Path) -> String {
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

#[test]
fn services_run_on_their_roles_and_verify_names_each_tampered_file() {
    let setup = Setup::new();
    std::fs::write(
        setup.path("services.toml"),
        "# the example's services\n[services.beta]\ncommand = \"beta-run --port 8080\"\nroles = [\"portal\", \"monctl\"]\nhealth = \"http://127.0.0.1:8080/health\"\ndescription = \"the portal\"\n",
    )
    .unwrap();
    let out = setup.bake_from(
        "base",
        "out",
        &["--services", "services.toml", "--service", "alpha=alpha-run"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let document: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        document["services"]["beta"]["roles"],
        serde_json::json!(["portal", "monctl"])
    );
    assert_eq!(
        document["services"]["beta"]["health"],
        "http://127.0.0.1:8080/health"
    );
    assert_eq!(document["services"]["alpha"]["roles"], serde_json::json!([]));
    assert_eq!(schema_errors(&document), Vec::<String>::new());

    let name = image(&setup.path("out"));
    let tree = setup.path("tree");
    untar(&setup.path("out").join(&name), &tree);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tree.join("etc/lastmile/candidate.json")).unwrap())
            .unwrap();
    assert_eq!(schema_errors(&manifest), Vec::<String>::new());
    assert!(manifest["image"].is_null());
    assert_eq!(manifest["packages"], document["packages"]);
    // The schema is not a rubber stamp: a manifest missing a package's RECORD digest fails it.
    let mut broken = manifest.clone();
    broken["packages"][0]
        .as_object_mut()
        .unwrap()
        .remove("record_sha256");
    assert_eq!(schema_errors(&broken).len(), 1);
    let units = tree.join("etc/systemd/system");
    let beta = std::fs::read_to_string(units.join("beta.service")).unwrap();
    assert!(beta.contains("Description=the portal (lastmile"), "{beta}");
    assert!(
        beta.contains("WantedBy=lastmile-role-portal.target lastmile-role-monctl.target\n"),
        "{beta}"
    );
    for role in ["portal", "monctl"] {
        let target = std::fs::read_to_string(units.join(format!("lastmile-role-{role}.target"))).unwrap();
        assert!(target.contains("WantedBy=multi-user.target"), "{target}");
        assert_eq!(
            std::fs::read_link(units.join(format!("lastmile-role-{role}.target.wants/beta.service")))
                .unwrap(),
            Path::new("/etc/systemd/system/beta.service")
        );
    }
    // A role's service does not start on every node; a service without roles does.
    assert!(!units.join("multi-user.target.wants/beta.service").exists());
    assert!(std::fs::symlink_metadata(units.join("multi-user.target.wants/alpha.service")).is_ok());

    // Repacked untouched, the tree verifies: the checks below fail for the tampering alone.
    let verify = |name: &str| bake(&["verify", &format!("out/{name}")], setup.dir.path(), &[], "022");
    let same = repack(&tree, &setup.path("out"));
    let ok = verify(&same);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    std::fs::remove_file(setup.path("out").join(&same)).unwrap();

    let site = tree.join("opt/lastmile/venv/lib/python3.11/site-packages");
    type Tamper<'a> = Box<dyn Fn() + 'a>;
    let tamper_cases: Vec<(&str, Tamper, &str)> = vec![
        (
            "a module edited",
            Box::new(|| std::fs::write(site.join("alpha/__init__.py"), "def main(): pass\n").unwrap()),
            "/opt/lastmile/venv/lib/python3.11/site-packages/alpha/__init__.py: differs from",
        ),
        (
            "a file slipped into the venv",
            Box::new(|| std::fs::write(site.join("sitecustomize.py"), "import os\n").unwrap()),
            "/opt/lastmile/venv/lib/python3.11/site-packages/sitecustomize.py: in the venv but in no RECORD",
        ),
        (
            "a RECORD rewritten to cover an edit",
            Box::new(|| {
                let record = site.join("alpha-1.0.dist-info/RECORD");
                let text = std::fs::read_to_string(&record).unwrap();
                std::fs::write(&record, format!("{text}extra.py,,\n")).unwrap();
            }),
            "alpha==1.0: its RECORD has sha256",
        ),
        (
            "a unit edited on the builder",
            Box::new(|| {
                std::fs::write(units.join("alpha.service"), "[Service]\nExecStart=/bin/sh\n").unwrap();
            }),
            "/etc/systemd/system/alpha.service: differs from the unit the manifest describes",
        ),
        (
            "a service disabled",
            Box::new(|| {
                std::fs::remove_file(units.join("lastmile-role-monctl.target.wants/beta.service")).unwrap()
            }),
            "/etc/systemd/system/lastmile-role-monctl.target.wants/beta.service: missing, so beta would not start",
        ),
    ];
    for (what, tamper, expect) in tamper_cases {
        let pristine = setup.path("pristine");
        let _ = std::fs::remove_dir_all(&pristine);
        untar(&setup.path("out").join(&name), &pristine);
        let _ = std::fs::remove_dir_all(&tree);
        std::fs::rename(&pristine, &tree).unwrap();
        tamper();
        let bad_name = repack(&tree, &setup.path("out"));
        let bad = verify(&bad_name);
        assert_eq!(bad.code, 1, "{what}: {}", bad.stderr);
        assert!(
            bad.stderr.contains(expect),
            "{what}: expected {expect:?} in\n{}",
            bad.stderr
        );
        std::fs::remove_file(setup.path("out").join(&bad_name)).unwrap();
    }
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

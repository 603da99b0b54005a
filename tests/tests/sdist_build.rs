//! A dependency released only as an sdist, with a C extension, baked into a candidate: bake-image
//! builds its wheel in the build root (scripts/build-root: the real base plus gcc and the
//! base's Python headers), so it is compiled against the base's own Python and C library; the
//! same sdist gives the same wheel bytes and the same image from a fresh cache; a built wheel is
//! cached by the sdist's sha256 (a second bake needs no build requirements at all); a build that
//! fails shows the compiler's error and keeps the whole log. Needs root (chroot, namespaces).

use std::path::{Path, PathBuf};
use std::process::Command;

use lastmile_tests::sdist::{GAMMA_C, build_root, gamma_sdist, run_in_image};
use lastmile_tests::{Output, run_command, script, tool};

struct Work {
    dir: tempfile::TempDir,
    base: String,
    build_root: String,
    backends: String,
}

impl Work {
    fn new() -> Work {
        let base = script("base-rootfs");
        let build_root = build_root();
        Work {
            dir: tempfile::Builder::new()
                .prefix("lastmile-sdist-build-")
                .tempdir()
                .unwrap(),
            base,
            build_root,
            backends: script("build-backends"),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// gamma pinned for the base from `links` (its sdist's hash only).
    fn pin(&self, links: &Path) -> PathBuf {
        let pinned = self.path("pinned.txt");
        let out = run_command(
            Command::new(tool("pin-deps"))
                .args(["-", "--no-index", "-f"])
                .arg(links)
                .args(["-f", &self.backends, "--target-rootfs", &self.base, "-o"])
                .arg(&pinned)
                .env("LASTMILE_CACHE_DIR", self.path("pin-cache")),
            Some("gamma\n"),
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        pinned
    }

    /// bake-image on the pins with the build root, the sources `sources`, into `out` with its
    /// own cache `cache`.
    fn bake(&self, pinned: &Path, sources: &[&Path], out: &str, cache: &str) -> Output {
        let mut command = Command::new(tool("bake-image"));
        command.arg(pinned).args([
            "--base",
            &self.base,
            "--build-root",
            &self.build_root,
            "--offline",
        ]);
        for source in sources {
            command.arg("-f").arg(source);
        }
        command
            .arg("--out-dir")
            .arg(self.path(out))
            .arg("--cache-dir")
            .arg(self.path(cache));
        run_command(&mut command, None)
    }
}

#[test]
fn an_sdist_only_c_extension_is_built_in_the_base_the_same_bytes_every_time_and_cached() {
    let work = Work::new();
    let links = work.path("public");
    let sdist = gamma_sdist(&links, GAMMA_C);
    let pinned = work.pin(&links);
    let backends = PathBuf::from(&work.backends);
    let first = work.bake(&pinned, &[&links, &backends], "out1", "cache1");
    assert_eq!(first.code, 0, "{}", first.stderr);
    let doc = first.json();
    let gamma = &doc["packages"][0];
    assert_eq!(gamma["name"], "gamma");
    assert_eq!(gamma["filename"], "gamma-1.0-cp311-cp311-linux_x86_64.whl");
    assert_eq!(gamma["built_from"]["sdist"], "gamma-1.0.tar.gz");
    let sdist_sha = lastmile_fs::Sha256::of_file(&sdist).unwrap().to_string();
    assert_eq!(gamma["built_from"]["sha256"], sdist_sha.as_str());
    assert!(
        gamma["built_from"]["builder"]["libc6"].is_string(),
        "{}",
        gamma["built_from"]
    );
    assert_eq!(
        lastmile_tests::schema::errors(&doc, "candidate.v1"),
        Vec::<String>::new()
    );

    // The image's Python imports it; the extension was compiled against the base's C library
    // and Python headers (bookworm's glibc 2.36 and Python 3.11.2), not the host's.
    let image = doc["image"]["path"].as_str().unwrap();
    let ran = run_in_image(
        image,
        &work.path("tree"),
        "import gamma; print(gamma.add(2, 3), *gamma.built_with())",
    );
    assert_eq!(ran, "5 2 36 3.11.2");

    // A fresh cache: the same wheel bytes and the same image.
    let second = work.bake(&pinned, &[&links, &backends], "out2", "cache2");
    assert_eq!(second.code, 0, "{}", second.stderr);
    let again = second.json();
    assert_eq!(again["packages"][0]["sha256"], gamma["sha256"]);
    assert_eq!(again["image"]["sha256"], doc["image"]["sha256"]);

    // Cached by the sdist's sha256: with the cache, no build happens, so the build
    // requirements (setuptools) need not be in the sources at all.
    let cached = work.bake(&pinned, &[&links], "out3", "cache1");
    assert_eq!(cached.code, 0, "{}", cached.stderr);
    assert_eq!(cached.json()["image"]["sha256"], doc["image"]["sha256"]);
    let uncached = work.bake(&pinned, &[&links], "out4", "cache4");
    assert_eq!(uncached.code, 2, "built without setuptools? {}", uncached.stdout);
    assert!(
        uncached
            .stderr
            .contains("No matching distribution found for setuptools"),
        "{}",
        uncached.stderr
    );
}

#[test]
fn a_failing_build_shows_the_compiler_error_keeps_the_log_and_leaves_no_image() {
    let work = Work::new();
    let links = work.path("public");
    gamma_sdist(
        &links,
        &GAMMA_C.replace(
            "return PyLong_FromLong(a + b);",
            "return PyLong_FromLong(a + b) nope;",
        ),
    );
    let pinned = work.pin(&links);
    let backends = PathBuf::from(&work.backends);
    let out = work.bake(&pinned, &[&links, &backends], "out", "cache");
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(
        out.stderr
            .contains("gamma==1.0: building a wheel from gamma-1.0.tar.gz in the build root"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("nope"),
        "the compiler's error is not shown:\n{}",
        out.stderr
    );
    let log = out
        .stderr
        .split("(the whole log: ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap_or_else(|| panic!("no log named:\n{}", out.stderr));
    let kept = std::fs::read_to_string(log).unwrap();
    assert!(kept.contains("gamma.c"), "{kept}");
    assert!(
        std::fs::read_dir(work.path("out")).unwrap().next().is_none(),
        "something was left in --out-dir"
    );
}

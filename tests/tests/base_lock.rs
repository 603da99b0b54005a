//! The base built from the OS lock (scripts/base-from-lock): two builds in different build
//! folders, with another TMPDIR, umask, hostname (a UTS namespace of their own), folder owner and
//! clock (400 days ahead, maintainer scripts included), offline (the .deb store only, no mirror),
//! give the same tree, bit for bit (paths, types, modes, owners,
//! times, contents, link targets), and the same candidate baked on each; the build root of the
//! same lock holds exactly the base's packages plus the build set. A candidate baked with
//! `--os-lock` lists every Debian package in its manifest and SBOM; one changed locked version
//! gives another base and another candidate, and a base that is not what the lock says is
//! refused; a lock entry missing from the store is refused offline, and a .deb the mirror serves
//! with other bytes than locked is refused naming its URL, nothing made or stored. Needs root
//! (mmdebstrap).

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use lastmile_tests::{run_command, script, tool, workspace};

/// Every entry of a tree: what it is, its mode, owner, time and content (or link target).
fn tree(root: &Path) -> BTreeMap<PathBuf, String> {
    let mut entries = BTreeMap::new();
    for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
        let entry = entry.unwrap();
        let meta = entry.path().symlink_metadata().unwrap();
        let what = if meta.file_type().is_symlink() {
            format!("-> {}", std::fs::read_link(entry.path()).unwrap().display())
        } else if meta.is_file() {
            lastmile_fs::Sha256::of_file(entry.path()).unwrap().to_string()
        } else {
            format!("{:?}", meta.file_type())
        };
        let line = format!(
            "{:o} {}:{} {} {what}",
            meta.mode(),
            meta.uid(),
            meta.gid(),
            meta.mtime()
        );
        entries.insert(entry.path().strip_prefix(root).unwrap().to_owned(), line);
    }
    entries
}

/// How a build differs from another: the machine's name, the caller's umask, the owner of its
/// build folder and TMPDIR, and a clock days ahead (libfaketime, also inside the chroot, where
/// maintainer scripts run).
struct Elsewhere<'a> {
    name: &'a str,
    hostname: &'a str,
    umask: &'a str,
    owner: Option<u32>,
    days_ahead: Option<u32>,
}

/// The mmdebstrap hooks that put libfaketime into the chroot (and take it out again), with a
/// record of the clock the maintainer scripts saw written to `dir/clock`.
fn faketime_hooks(dir: &Path) -> PathBuf {
    let hooks = dir.join("hooks");
    std::fs::create_dir_all(&hooks).unwrap();
    let lib = "/usr/lib/x86_64-linux-gnu/faketime";
    std::fs::write(
        hooks.join("setup00-faketime.sh"),
        format!("#!/bin/sh\nset -e\nmkdir -p \"$1{lib}\"\ncp {lib}/libfaketime.so.1 \"$1{lib}/\"\n"),
    )
    .unwrap();
    std::fs::write(
        hooks.join("customize00-faketime.sh"),
        format!(
            "#!/bin/sh\nset -e\nchroot \"$1\" date +%s > {}\nrm -r \"$1{lib}\"\n",
            dir.join("clock").display()
        ),
    )
    .unwrap();
    for hook in ["setup00-faketime.sh", "customize00-faketime.sh"] {
        let out = run_command(Command::new("chmod").arg("+x").arg(hooks.join(hook)), None);
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    hooks
}

/// scripts/base-from-lock on the example's lock in its own build folder, TMPDIR, hostname (a UTS
/// namespace of its own), umask, owner and clock, offline from the shared store; the base's folder.
fn build_elsewhere(dir: &Path, how: &Elsewhere) -> PathBuf {
    let build_dir = dir.join(format!("build-{}", how.name));
    let tmp = dir.join(format!("tmp-{}", how.name));
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::create_dir_all(&build_dir).unwrap();
    if let Some(uid) = how.owner {
        let out = run_command(
            Command::new("chown")
                .arg(format!("{uid}:{uid}"))
                .arg(&build_dir)
                .arg(&tmp),
            None,
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    let store = workspace().join("target/lastmile/cache/deb-store");
    let mut command = Command::new("unshare");
    command
        .args([
            "--uts",
            "sh",
            "-c",
            &format!("umask {} && hostname \"$0\" && exec \"$@\"", how.umask),
        ])
        .arg(how.hostname)
        .arg(workspace().join("scripts/base-from-lock"))
        .args(["--offline", "examples/cam/os-lock.json"])
        .current_dir(workspace())
        .env("LASTMILE_BUILD_DIR", &build_dir)
        .env("LASTMILE_DEB_STORE", &store)
        .env("TMPDIR", &tmp);
    if let Some(days) = how.days_ahead {
        command
            .env("LASTMILE_BASE_HOOKS", faketime_hooks(dir))
            .env(
                "LD_PRELOAD",
                "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
            )
            .env("FAKETIME", format!("+{days}d"))
            .env("DONT_FAKE_MONOTONIC", "1")
            // The clock only: without this, libfaketime also shifts the times stat() reports,
            // so tar would read every file as 400 days newer than it is.
            .env("NO_FAKE_STAT", "1");
    }
    let out = run_command(&mut command, None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    PathBuf::from(out.stdout.trim())
}

/// The clock the maintainer scripts of the faked build saw, in days after now.
fn days_ahead_in_the_chroot(dir: &Path) -> i64 {
    let seen: i64 = std::fs::read_to_string(dir.join("clock"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    (seen - i64::try_from(now).unwrap()) / 86_400
}

#[test]
fn one_lock_gives_the_same_base_and_the_same_candidate_on_any_build_folder_offline() {
    // The default base fills the shared store (from the mirror the first time only).
    let default = PathBuf::from(script("base-rootfs"));
    let dir = tempfile::Builder::new()
        .prefix("lastmile-base-lock-")
        .tempdir()
        .unwrap();
    let first = build_elsewhere(
        dir.path(),
        &Elsewhere {
            name: "a",
            hostname: "node-a",
            umask: "022",
            owner: None,
            days_ahead: None,
        },
    );
    // Another machine, another day: 400 days ahead, folders of another user, a strict umask.
    let second = build_elsewhere(
        dir.path(),
        &Elsewhere {
            name: "b",
            hostname: "another-host",
            umask: "077",
            owner: Some(4242),
            days_ahead: Some(400),
        },
    );
    let ahead = days_ahead_in_the_chroot(dir.path());
    assert!(
        (399..=401).contains(&ahead),
        "the chroot's clock was {ahead} days ahead"
    );
    let (a, b) = (tree(&first), tree(&second));
    assert!(a.len() > 5000, "{} entries", a.len());
    let differ: Vec<_> = a
        .iter()
        .filter(|(path, line)| b.get(*path) != Some(line))
        .map(|(p, _)| p)
        .take(10)
        .collect();
    assert!(
        differ.is_empty() && a.len() == b.len(),
        "the two bases differ at {differ:?}"
    );
    assert_eq!(
        a,
        tree(&default),
        "the default base differs from one built elsewhere"
    );
    assert_eq!(
        std::fs::read_to_string(first.join("etc/hostname")).unwrap(),
        "localhost\n"
    );

    // The same candidate on each.
    let pinned = dir.path().join("pinned.txt");
    let (_, wheels) = lastmile_tests::pin_example_for_base(&pinned);
    let bake = |base: &Path, out: &str| {
        let baked = run_command(
            Command::new(tool("bake-image"))
                .arg(&pinned)
                .arg("--base")
                .arg(base)
                .args(["-f", &wheels, "--offline", "--out-dir"])
                .arg(dir.path().join(out))
                .env("LASTMILE_CACHE_DIR", dir.path().join("cache")),
            None,
        );
        assert_eq!(baked.code, 0, "{}", baked.stderr);
        baked.json()["image"]["sha256"].as_str().unwrap().to_owned()
    };
    assert_eq!(bake(&first, "out-a"), bake(&second, "out-b"));
}

#[test]
fn the_build_root_is_the_bases_packages_plus_the_build_set() {
    let base = PathBuf::from(script("base-rootfs"));
    let build_root = PathBuf::from(lastmile_tests::sdist::build_root());
    let installed = |root: &Path| -> BTreeMap<String, String> {
        let out = run_command(
            Command::new("dpkg-query")
                .arg(format!("--admindir={}", root.join("var/lib/dpkg").display()))
                .args(["-W", "-f=${Package} ${Version}\n"]),
            None,
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        out.stdout
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect()
    };
    let (base, build) = (installed(&base), installed(&build_root));
    for (name, version) in &base {
        assert_eq!(build.get(name), Some(version), "{name}");
    }
    let lock: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(workspace().join("examples/cam/os-lock.json")).unwrap(),
    )
    .unwrap();
    let build_set: Vec<&str> = lock["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["set"] == "build")
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    let extra: Vec<&str> = build
        .keys()
        .filter(|n| !base.contains_key(*n))
        .map(String::as_str)
        .collect();
    assert_eq!(extra, build_set);
    assert!(
        extra.contains(&"gcc-12") && extra.contains(&"libpython3.11-dev"),
        "{extra:?}"
    );
}

/// The example's lock with nginx at another version: its `.deb` repacked as `VERSION+lmtest1`
/// (into the store, where the lock finds it), written to `dir/lock.json`. Returns the new version.
fn lock_with_another_nginx(dir: &Path) -> (PathBuf, String) {
    let lock_path = workspace().join("examples/cam/os-lock.json");
    let mut lock: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&lock_path).unwrap()).unwrap();
    let store = workspace().join("target/lastmile/cache/deb-store/http-v2/files/sha256");
    let nginx = lock["packages"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|p| p["name"] == "nginx")
        .expect("the example's lock has nginx");
    let sha = nginx["sha256"].as_str().unwrap().to_owned();
    let version = format!("{}+lmtest1", nginx["version"].as_str().unwrap());
    let unpacked = dir.join("nginx-deb");
    let deb = dir.join("nginx.deb");
    let repack = format!(
        "dpkg-deb -R \"$0\" \"$1\" && sed -i 's/^Version: .*/Version: {version}/' \"$1/DEBIAN/control\" && dpkg-deb -b \"$1\" \"$2\" >/dev/null"
    );
    let out = run_command(
        Command::new("sh")
            .args(["-c", &repack])
            .arg(store.join(&sha[..2]).join(&sha))
            .arg(&unpacked)
            .arg(&deb),
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let bytes = std::fs::read(&deb).unwrap();
    let new_sha = lastmile_fs::Sha256::of(&bytes).to_string();
    let into = store.join(&new_sha[..2]);
    std::fs::create_dir_all(&into).unwrap();
    std::fs::write(into.join(&new_sha), &bytes).unwrap();
    nginx["version"] = version.clone().into();
    nginx["sha256"] = new_sha.into();
    nginx["size"] = bytes.len().into();
    let path = dir.join("lock.json");
    std::fs::write(&path, serde_json::to_string_pretty(&lock).unwrap()).unwrap();
    (path, version)
}

/// Bakes of the example's pins with `--os-lock`, each into its own folder under `dir`.
struct Baker {
    dir: tempfile::TempDir,
    pinned: PathBuf,
    wheels: String,
}

impl Baker {
    fn new() -> Baker {
        let dir = tempfile::Builder::new()
            .prefix("lastmile-os-lock-bake-")
            .tempdir()
            .unwrap();
        let pinned = dir.path().join("pinned.txt");
        let (_, wheels) = lastmile_tests::pin_example_for_base(&pinned);
        Baker { dir, pinned, wheels }
    }

    fn bake(&self, base: &Path, lock: &Path, services: &[&str], out: &str) -> lastmile_tests::Output {
        run_command(
            Command::new(tool("bake-image"))
                .arg(&self.pinned)
                .arg("--base")
                .arg(base)
                .arg("--os-lock")
                .arg(lock)
                .args(services)
                .args(["-f", &self.wheels, "--offline", "--out-dir"])
                .arg(self.dir.path().join(out))
                .current_dir(workspace())
                .env("LASTMILE_CACHE_DIR", self.dir.path().join("cache")),
            None,
        )
    }
}

/// The candidate lists exactly the lock's image set (manifest and SBOM); the lock's nginx entry.
fn assert_listed(candidate: &serde_json::Value, example_lock: &Path) -> serde_json::Value {
    let lock: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(example_lock).unwrap()).unwrap();
    let image_set: Vec<&serde_json::Value> = lock["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["set"] == "image")
        .collect();
    let listed = candidate["base"]["lock"]["packages"].as_array().unwrap();
    assert_eq!(listed.len(), image_set.len());
    for (listed, locked) in listed.iter().zip(&image_set) {
        for field in ["name", "version", "architecture", "sha256", "roles"] {
            assert_eq!(listed[field], locked[field], "{field} of {}", locked["name"]);
        }
    }
    let nginx = (*image_set.iter().find(|p| p["name"] == "nginx").unwrap()).clone();
    assert_eq!(nginx["roles"], serde_json::json!(["portal"]));
    let built_with = &candidate["base"]["lock"]["built_with"];
    assert!(
        built_with["mmdebstrap"].is_string() && built_with["dpkg"].is_string(),
        "{built_with}"
    );
    // The SBOM beside the image: the Debian package with its purl and the .deb's sha256.
    let image = PathBuf::from(candidate["image"]["path"].as_str().unwrap());
    let sbom_path = image.with_file_name(
        image
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .replace(".tar.gz", ".sbom.cdx.json"),
    );
    let sbom: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&sbom_path).unwrap()).unwrap();
    let purl = format!(
        "pkg:deb/debian/nginx@{}?arch=amd64",
        nginx["version"].as_str().unwrap()
    );
    let component = sbom["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["purl"] == purl.as_str())
        .unwrap_or_else(|| panic!("no {purl} in the SBOM"));
    assert_eq!(component["hashes"][0]["content"], nginx["sha256"]);

    nginx
}

#[test]
fn the_candidate_lists_its_debian_packages_and_one_changed_locked_version_changes_its_digest() {
    let base = PathBuf::from(script("base-rootfs"));
    let baker = Baker::new();
    let bake = |base: &Path, lock: &Path, services: &[&str], out: &str| baker.bake(base, lock, services, out);
    let dir = &baker.dir;
    let services = ["--services", "examples/cam/services.toml"];
    let example_lock = workspace().join("examples/cam/os-lock.json");
    let first = bake(&base, &example_lock, &services, "first");
    assert_eq!(first.code, 0, "{}", first.stderr);
    let candidate = first.json();
    let nginx = assert_listed(&candidate, &example_lock);

    // One locked version changed: another base, another candidate.
    let (changed_lock, version) = lock_with_another_nginx(dir.path());
    let refused = bake(&base, &changed_lock, &services, "refused");
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains(&format!(
            "nginx: {} installed, {version} locked",
            nginx["version"].as_str().unwrap()
        )) && refused.stderr.contains("scripts/base-from-lock"),
        "{}",
        refused.stderr
    );
    assert!(
        !dir.path()
            .join("refused")
            .read_dir()
            .unwrap()
            .any(|e| { e.unwrap().file_name().to_string_lossy().starts_with("autobuild-") })
    );
    let built = run_command(
        Command::new(workspace().join("scripts/base-from-lock"))
            .arg("--offline")
            .arg(&changed_lock)
            .current_dir(workspace())
            .env("LASTMILE_BUILD_DIR", dir.path().join("build"))
            .env(
                "LASTMILE_DEB_STORE",
                workspace().join("target/lastmile/cache/deb-store"),
            ),
        None,
    );
    assert_eq!(built.code, 0, "{}", built.stderr);
    let changed_base = PathBuf::from(built.stdout.trim());
    let second = bake(&changed_base, &changed_lock, &services, "second");
    assert_eq!(second.code, 0, "{}", second.stderr);
    let second = second.json();
    assert_ne!(second["image"]["sha256"], candidate["image"]["sha256"]);
    assert_ne!(second["base"]["digest"], candidate["base"]["digest"]);
    let listed = second["base"]["lock"]["packages"].as_array().unwrap();
    assert!(
        listed
            .iter()
            .any(|p| p["name"] == "nginx" && p["version"] == version.as_str())
    );
    // The base's own record names its lock: the example's lock does not fit the changed base.
    let other = bake(&changed_base, &example_lock, &services, "other");
    assert_eq!(other.code, 2, "{}", other.stderr);
    assert!(other.stderr.contains("is not what --os-lock"), "{}", other.stderr);

    // A lock role no service has is refused.
    let no_services = bake(&base, &example_lock, &[], "no-services");
    assert_eq!(no_services.code, 2, "{}", no_services.stderr);
    assert!(
        no_services
            .stderr
            .contains("role \"portal\" of the OS lock is no role of any service"),
        "{}",
        no_services.stderr
    );
}

#[test]
fn a_lock_entry_missing_from_the_store_is_refused_offline_naming_the_package_and_nothing_is_made() {
    let dir = tempfile::Builder::new()
        .prefix("lastmile-os-lock-missing-")
        .tempdir()
        .unwrap();
    let mut lock: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(workspace().join("examples/cam/os-lock.json")).unwrap(),
    )
    .unwrap();
    let missing = "f".repeat(64);
    let entry = lock["packages"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|p| p["name"] == "libc6")
        .unwrap();
    entry["sha256"] = missing.clone().into();
    let version = entry["version"].as_str().unwrap().to_owned();
    let path = dir.path().join("lock.json");
    std::fs::write(&path, serde_json::to_string_pretty(&lock).unwrap()).unwrap();
    let build_dir = dir.path().join("build");
    let out = run_command(
        Command::new(workspace().join("scripts/base-from-lock"))
            .arg("--offline")
            .arg(&path)
            .current_dir(workspace())
            .env("LASTMILE_BUILD_DIR", &build_dir)
            .env(
                "LASTMILE_DEB_STORE",
                workspace().join("target/lastmile/cache/deb-store"),
            ),
        None,
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("libc6 {version}: sha256 {missing} is not in the store"))
            && out
                .stderr
                .contains("run without --offline to fetch http://deb.debian.org/debian/pool/main/g/glibc/"),
        "{}",
        out.stderr
    );
    assert_no_base_under(&build_dir);
}

/// The files (and folders) under `dir` whose entry `keep` says yes.
fn files_under(dir: &Path, keep: impl Fn(&walkdir::DirEntry) -> bool) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.depth() > 0 && keep(e))
        .map(|e| e.path().to_owned())
        .collect()
}

/// Nothing of a base (half-made or complete) was left under the build folder.
fn assert_no_base_under(build_dir: &Path) {
    let made = files_under(build_dir, |e| {
        e.file_name().to_string_lossy().starts_with("base-rootfs-lock")
    });
    assert!(made.is_empty(), "{made:?}");
}

/// An HTTP server on 127.0.0.1 that answers every request with `body`; its base URL.
fn serve_always(body: &'static [u8]) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream
                .write_all(head.as_bytes())
                .and_then(|()| stream.write_all(body));
        }
    });
    url
}

#[test]
fn a_deb_the_mirror_serves_with_other_bytes_is_refused_naming_it_and_nothing_is_stored() {
    let dir = tempfile::Builder::new()
        .prefix("lastmile-os-lock-tampered-")
        .tempdir()
        .unwrap();
    let mirror = serve_always(b"!<arch>\nnot the package the lock names\n");
    let mut lock: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(workspace().join("examples/cam/os-lock.json")).unwrap(),
    )
    .unwrap();
    for index in lock["indexes"].as_array_mut().unwrap() {
        index["uri"] = format!("{mirror}/debian").into();
    }
    let first = lock["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["set"] == "image")
        .unwrap()
        .clone();
    let path = dir.path().join("lock.json");
    std::fs::write(&path, serde_json::to_string_pretty(&lock).unwrap()).unwrap();
    let (store, build_dir) = (dir.path().join("store"), dir.path().join("build"));
    let out = run_command(
        Command::new(workspace().join("scripts/base-from-lock"))
            .arg(&path)
            .current_dir(workspace())
            .env("LASTMILE_BUILD_DIR", &build_dir)
            .env("LASTMILE_DEB_STORE", &store),
        None,
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    let url = format!("{mirror}/debian/{}", first["filename"].as_str().unwrap());
    let says = format!(
        "but {} says sha256 {} (size {})",
        path.display(),
        first["sha256"].as_str().unwrap(),
        first["size"]
    );
    assert!(
        out.stderr.contains(&format!("{url}: sha256 ")) && out.stderr.contains(&says),
        "{}",
        out.stderr
    );
    let stored = files_under(&store, |e| e.file_type().is_file());
    assert!(stored.is_empty(), "{stored:?}");
    assert_no_base_under(&build_dir);
}

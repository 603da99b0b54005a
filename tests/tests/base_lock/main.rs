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

mod candidate;
mod refusals;

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
